import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { MeshIR, MeshSettings, WorkloadIR } from "../../contract/ir.js";
import type { Snapshot } from "../../envoy/snapshot/snapshot.js";
import type { XdsServer } from "../../envoy/xds/server.js";
import type { CaRotation } from "../identity/ca-rotation.js";
import type { SidecarCertificates } from "../identity/workload-certificates.js";
import type { LeaderElector } from "../kube/leader-election.js";
import { ObjectStore } from "../kube/object-store.js";
import { StatusWriter } from "../kube/status-writer.js";
import { DiscoveryBook } from "../oidc/discovery-book.js";
import { Controller } from "./controller.js";
import type { ControllerMetrics } from "./metrics.js";
import type { Clock } from "./ports.js";
import { SidecarReports } from "./sidecar-reports.js";

export interface ControllerWiring {
  kc: KubeConfig;
  xds: XdsServer;
  elector: LeaderElector;
  metrics: ControllerMetrics;
  log: Logger;
  buildSnapshot: (workload: WorkloadIR, mesh?: MeshIR) => Snapshot;
  caRotation?: CaRotation;
  certificates?: SidecarCertificates;
  mesh?: MeshSettings;
  /** Whether the installation runs bulwark telemetry (--telemetry-address). */
  telemetryReceiver?: boolean;
  clock?: Clock;
  /**
   * How long a Pod change (an IP, readiness, a new pod) waits for others before a reconcile
   * (default 500 ms): a pod whose IP flaps makes at most one push every this long, however fast it flaps.
   */
  podDebounceMs?: number;
}

/**
 * The composition root of `bulwark controller`: the Kubernetes-backed object store, status writer
 * and sidecar reports (next to the elector's Lease), handed to the controller with the xDS cache.
 */
export function wireController(wiring: ControllerWiring): Controller {
  const { kc, log, caRotation } = wiring;
  const podDebounceMs = wiring.podDebounceMs ?? 500;
  const objects = new ObjectStore(kc, (kind) => controller.schedule(kind === "pods" ? podDebounceMs : undefined), log, {
    ...(caRotation ? { namedSecrets: [caRotation.secret] } : {}),
  });
  const lease = wiring.elector.lease;
  const clock = wiring.clock ?? ((): Date => new Date());
  // The store calls back only once started, after `controller` is set.
  const controller = new Controller({
    objects,
    writer: new StatusWriter(kc, log, wiring.metrics),
    reports: new SidecarReports(kc, { namespace: lease.namespace, leaseName: lease.name, identity: lease.identity, clock }, log),
    cache: wiring.xds.cache,
    leadership: wiring.elector,
    clock,
    metrics: wiring.metrics,
    log,
    buildSnapshot: wiring.buildSnapshot,
    ...(caRotation ? { caRotation } : {}),
    ...(wiring.certificates ? { certificates: wiring.certificates } : {}),
    ...(wiring.mesh ? { mesh: wiring.mesh } : {}),
    ...(wiring.telemetryReceiver ? { telemetryReceiver: true } : {}),
    // A changed discovery result is a change of translation input, like a changed Secret.
    discovery: new DiscoveryBook({ onChange: () => controller.schedule(), log }),
  });
  return controller;
}
