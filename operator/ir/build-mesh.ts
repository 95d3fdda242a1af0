import type { MeshService } from "../resolve/mesh-services.js";
import type { ListenerIR, MeshIR, MeshServiceIR, MeshSettings, WorkloadIR } from "../../contract/ir.js";
import { compareStrings } from "../../common/order.js";

/** `outbound/<ns>/<service>`: the destination's cluster and endpoint set. */
export function meshServiceName(namespace: string, service: string): string {
  return `outbound/${namespace}/${service}`;
}

function spiffe(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

/** Authorities of a Service: fully qualified and shorter forms, with and without each port. The bare name is per caller namespace. */
export function meshHosts(service: { namespace: string; service: string; ports: readonly number[] }, clusterDomain: string): string[] {
  const names = [`${service.service}.${service.namespace}`, `${service.service}.${service.namespace}.svc`, `${service.service}.${service.namespace}.svc.${clusterDomain}`];
  return names.flatMap((n) => [n, ...service.ports.map((p) => `${n}:${p}`)]).sort(compareStrings);
}

/** A destination whose IR could not be built, and the sidecars behind it. */
export interface MeshFailure {
  service: string;
  sidecars: string[];
  error: unknown;
}

/** Builds one destination's entry (undefined: no sidecar behind it is known); replaceable in tests. */
export type MeshServiceBuilder = (s: MeshService, listeners: ReadonlyMap<string, ListenerIR>, settings: MeshSettings) => MeshServiceIR | undefined;

/** The default builder of a destination's IR entry. */
export function meshService(s: MeshService, listeners: ReadonlyMap<string, ListenerIR>, settings: MeshSettings): MeshServiceIR | undefined {
  // A sidecar serving a public certificate presents no SPIFFE id, so mesh callers could not verify it: it is no destination.
  const known = s.pods.filter((p) => listeners.has(p.sidecar) && listeners.get(p.sidecar)?.tls?.publicCertificate === undefined);
  if (known.length === 0) return undefined;
  const endpoints = known
    .filter((p): p is typeof p & { address: string } => p.address !== undefined && p.ready)
    .map((p) => ({ address: p.address, port: p.port, tls: listeners.get(p.sidecar)?.tls !== undefined }))
    .sort((a, b) => compareStrings(`${a.address}:${String(a.port).padStart(5, "0")}`, `${b.address}:${String(b.port).padStart(5, "0")}`));
  const tlsListeners = known.map((p) => listeners.get(p.sidecar)?.tls).filter((t) => t !== undefined);
  const identities = [...new Set(known.map((p) => spiffe(settings.trustDomain, s.namespace, p.serviceAccount)))].sort(compareStrings);
  return {
    name: meshServiceName(s.namespace, s.name),
    namespace: s.namespace,
    service: s.name,
    hosts: meshHosts({ namespace: s.namespace, service: s.name, ports: s.ports }, settings.clusterDomain),
    ports: s.ports,
    endpoints,
    identities,
    ...(tlsListeners.length > 0 ? { tls: { minVersion: tlsListeners.some((t) => t.minVersion === "TLSv1.3") ? "TLSv1.3" : "TLSv1.2" } } : {}),
  };
}

/**
 * The mesh's destinations: each Service with sidecar pods, its endpoints (pod IP and sidecar
 * inbound port), the SPIFFE ids its sidecars present, and TLS as its sidecars' listeners expect
 * it. Sidecars whose policy is invalid keep a configuration translation no longer knows, so they
 * are left out until it is valid again. A destination whose entry cannot be built is left out
 * and returned in `failures` (with the sidecars behind it), so the policies concerned fail alone.
 */
export function buildMesh(
  services: readonly MeshService[],
  workloads: readonly WorkloadIR[],
  settings: MeshSettings,
  buildService: MeshServiceBuilder = meshService,
): { mesh: MeshIR; failures: MeshFailure[] } {
  const listeners = new Map<string, ListenerIR>();
  for (const w of workloads) for (const id of w.sidecars) listeners.set(id, w.listener);
  const out: MeshServiceIR[] = [];
  const failures: MeshFailure[] = [];
  for (const s of services) {
    try {
      const entry = buildService(s, listeners, settings);
      if (entry) out.push(entry);
    } catch (error) {
      failures.push({ service: `${s.namespace}/${s.name}`, sidecars: s.pods.map((p) => p.sidecar).filter((id) => listeners.has(id)), error });
    }
  }
  return { mesh: { trustDomain: settings.trustDomain, services: out.sort((a, b) => compareStrings(a.name, b.name)) }, failures };
}
