import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { buildInfoGauge } from "../../common/build-info-gauge.js";
import { shortTypeName, XdsType } from "../../envoy/type-urls.js";

/** The controller's Prometheus metrics. */
export class ControllerMetrics {
  readonly registry = new Registry();
  readonly reconcileSeconds = new Histogram({
    name: "bulwark_reconcile_duration_seconds",
    help: "Time to translate all objects and update the snapshots.",
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly reconcileStageSeconds = new Histogram({
    name: "bulwark_reconcile_stage_duration_seconds",
    help: "Time of each stage of a reconcile: input (objects, discovery, CA), resolve, ir, snapshots (Envoy resources, encoding, cache), status (after the pushes).",
    labelNames: ["stage"],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly pushSeconds = new Histogram({
    name: "bulwark_xds_push_to_ack_seconds",
    help: "Time from a new snapshot for a sidecar to its acknowledgement of every type.",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly connectedSidecars = new Gauge({ name: "bulwark_xds_connected_sidecars", help: "Sidecars with an open ADS stream.", registers: [this.registry] });
  readonly rejectedStreams = new Counter({
    name: "bulwark_xds_rejected_streams_total",
    help: "ADS streams and connections refused: plaintext, no token, a token the API server refuses, of another audience or not bound to a pod, a node id not the token's pod, TokenReview unavailable.",
    labelNames: ["reason"],
    registers: [this.registry],
  });
  readonly acks = new Counter({ name: "bulwark_xds_acks_total", help: "Configurations acknowledged by sidecars.", labelNames: ["type"], registers: [this.registry] });
  readonly nacks = new Counter({ name: "bulwark_xds_nacks_total", help: "Configurations rejected by sidecars.", labelNames: ["type"], registers: [this.registry] });
  readonly snapshotUpdates = new Counter({ name: "bulwark_snapshot_updates_total", help: "Sidecar snapshots replaced because their content changed.", registers: [this.registry] });
  readonly statusWrites = new Counter({ name: "bulwark_status_writes_total", help: "Policy status writes.", labelNames: ["result"], registers: [this.registry] });
  readonly leader = new Gauge({ name: "bulwark_leader", help: "1 when this replica holds the leader Lease.", registers: [this.registry] });
  readonly policies = new Gauge({
    name: "bulwark_policies",
    help: "Policies by their Ready condition and its reason, as the leader last wrote them (only the leader reports).",
    labelNames: ["ready", "reason"],
    registers: [this.registry],
  });
  readonly buildInfo: Gauge;

  constructor(build?: { version: string; commit: string }) {
    collectDefaultMetrics({ register: this.registry });
    this.buildInfo = buildInfoGauge(this.registry, build);
    // Every type has its series from the start, so rate() and alerts see a NACK from the first one.
    for (const type of Object.values(XdsType)) {
      this.acks.inc({ type: shortTypeName(type) }, 0);
      this.nacks.inc({ type: shortTypeName(type) }, 0);
    }
  }

  /** The Ready conditions of the policies the leader wrote, counted by status and reason (replacing the previous count). */
  countPolicies(ready: readonly { status: string; reason: string }[]): void {
    this.policies.reset();
    for (const r of ready) this.policies.inc({ ready: r.status, reason: r.reason });
  }
}
