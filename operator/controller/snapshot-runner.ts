import { performance } from "node:perf_hooks";
import type { MeshIR, WorkloadIR } from "../../contract/ir.js";
import { missingSecrets, withSecrets } from "../../envoy/snapshot/secrets.js";
import type { Snapshot } from "../../envoy/snapshot/snapshot.js";
import { AcceptedReason } from "../api/v1alpha1/conditions.js";
import { identityKey, identityOfPod, type WorkloadIdentity } from "../identity/spiffe.js";
import type { SidecarCertificates } from "../identity/workload-certificates.js";
import { sidecarNodeId, type PodObject } from "../resolve/objects.js";
import { buildPerWorkload, policyOf, type Translation, type WorkloadFailure } from "../translate/translate.js";
import type { NamedResource } from "../../envoy/build/resources.js";
import { publicCertificateSecret } from "../identity/sds.js";
import { errorMessage } from "../../common/errors.js";
import { meshScopeKeys } from "./mesh-scope.js";
import type { ControllerMetrics } from "./metrics.js";
import type { Logger, XdsCache } from "./ports.js";
import type { SidecarReport } from "./sidecar-reports.js";

/** The policy (and its generation) a snapshot was built from; empty for a pass-through sidecar. */
export interface RunningConfig {
  policyKey?: string;
  generation?: number;
}

export interface SnapshotRunnerOptions {
  cache: XdsCache;
  /** Encodes a workload's Envoy resources (with the mesh's egress proxy when there is a mesh) into a snapshot (pure). */
  buildSnapshot: (workload: WorkloadIR, mesh?: MeshIR) => Snapshot;
  /** The workload CA: SDS secrets (workload certificate, trust bundle) for sidecars whose listener uses TLS. */
  certificates?: SidecarCertificates;
  metrics: Pick<ControllerMetrics, "snapshotUpdates" | "pushSeconds">;
  log: Logger;
  /** Called with each sidecar snapshot that carries SDS secrets (the CA runner learns the trust bundle's roots). */
  onSecrets?: (snapshot: Snapshot, secrets: readonly { name: string; resource: unknown }[]) => void;
  /** Called when what `ownReport` reads of a sidecar may have changed here: a new snapshot, another policy or generation, a cleared sidecar. */
  onReportChange?: (nodeId: string) => void;
}

/** What one publication did. */
export interface Publication {
  /** Sidecars that got a snapshot of this translation. */
  wanted: Set<string>;
  /** Sidecars of invalid policies: they keep their last snapshot. */
  held: Set<string>;
  /** Sidecars whose snapshot was removed (no workload and not held). */
  cleared: string[];
}

/**
 * Turns a translation into each sidecar's xDS snapshot and sets it in the cache: snapshots are
 * memoised by workload content (only sidecars whose output changed get a push), the SDS secrets
 * of a workload's identity are added per sidecar, and sidecars no longer wanted are cleared.
 * It also knows what each sidecar runs as far as policy goes, for the status.
 */
export class SnapshotRunner {
  private readonly snapshotMemo = new Map<string, Snapshot>();
  /** Snapshots with a workload's SDS secrets, by snapshot version and secrets. */
  private readonly securedMemo = new Map<string, Snapshot>();
  private readonly running = new Map<string, RunningConfig>();
  /**
   * What each sidecar runs as far as policy goes: the config of the last snapshot it acknowledged
   * in full. A push that changes only endpoints keeps it, so the policy does not turn Pending.
   */
  private readonly acked = new Map<string, RunningConfig>();
  private readonly pushedAt = new Map<string, number>();
  /** Memo keys of workload objects (memoKey). */
  private readonly keys = new WeakMap<WorkloadIR, { scope: string; key: string }>();

  constructor(private readonly options: SnapshotRunnerOptions) {}

  /** Builds and sets the snapshot of every sidecar of `translation` (a workload whose build fails fails its policy alone). */
  async publish(translation: Translation, pods: readonly PodObject[], now: Date): Promise<Publication> {
    const { built, failed } = this.build(translation);
    for (const failed of translation.resolution.policies.filter((p) => p.accepted.reason === AcceptedReason.TranslationFailed)) {
      this.options.log.error(
        { policy: `${failed.namespace}/${failed.name}`, error: failed.accepted.message },
        "translation of a policy failed; its sidecars keep their last good configuration",
      );
    }
    const identities = new Map(pods.map((pod) => [sidecarNodeId(pod), identityOfPod(pod)]));
    const wanted = new Set<string>();
    const used = { identities: new Set<string>(), secured: new Set<string>() };
    for (const { workload, snapshot } of built) {
      const own = publicCertificateSecrets(translation, workload);
      for (const nodeId of workload.sidecars) {
        wanted.add(nodeId);
        const identity = identities.get(nodeId) ?? { namespace: workload.namespace, serviceAccount: "default" };
        const secured = await this.secured({ snapshot, identity, own }, now, used);
        this.set(nodeId, secured, workload);
      }
    }
    const held = this.heldSidecars(translation, failed);
    const cleared = this.clearUnwanted(wanted, held);
    const usedKeys = new Set(built.map((b) => b.key));
    for (const key of this.snapshotMemo.keys()) if (!usedKeys.has(key)) this.snapshotMemo.delete(key);
    for (const key of this.securedMemo.keys()) if (!used.secured.has(key)) this.securedMemo.delete(key);
    this.options.certificates?.retain(used.identities);
    return { wanted, held, cleared };
  }

  /** Sidecars kept at their last good configuration: their policy failed, or (pass-through) their own build did. */
  private heldSidecars(translation: Translation, failed: readonly WorkloadFailure[]): Set<string> {
    for (const f of failed.filter((f) => !f.workload.policy)) {
      this.options.log.error(
        { workload: f.workload.name, sidecars: f.workload.sidecars, error: errorMessage(f.error) },
        "the Envoy resources of pass-through sidecars could not be built; they keep their last good configuration",
      );
    }
    return new Set([...translation.resolution.policies.flatMap((p) => p.held), ...failed.flatMap((f) => f.workload.sidecars)]);
  }

  /** Each workload's snapshot, from the memo when its content and egress scope are unchanged; the workloads that could not be built. */
  private build(translation: Translation): { built: { workload: WorkloadIR; key: string; snapshot: Snapshot }[]; failed: WorkloadFailure[] } {
    const mesh = translation.ir.mesh;
    const meshScopeKey = meshScopeKeys(mesh);
    const { built, failed } = buildPerWorkload(translation, (workload) => {
      const key = this.memoKey(workload, meshScopeKey(workload));
      let snapshot = this.snapshotMemo.get(key);
      if (!snapshot) {
        snapshot = this.options.buildSnapshot(workload, mesh);
        this.snapshotMemo.set(key, snapshot);
      }
      return { key, snapshot };
    });
    return { built: built.map(({ workload, built: { key, snapshot } }) => ({ workload, key, snapshot })), failed };
  }

  /**
   * A workload's snapshot memo key. Memo key only (snapshot versions hash the encoded resources):
   * translation builds equal IR in the same key order, so plain JSON is enough, and 5x cheaper
   * than sorted JSON at 1,000 workloads; a workload object that translation reused (it never
   * changes one it hands out: ir/build.ts) keeps its key without being serialised again.
   */
  private memoKey(workload: WorkloadIR, scope: string): string {
    const known = this.keys.get(workload);
    if (known?.scope === scope) return known.key;
    const { sidecars: _s, ...content } = workload;
    const key = `${scope}\u0000${JSON.stringify(content)}`;
    this.keys.set(workload, { scope, key });
    return key;
  }

  /**
   * The workload's snapshot with its SDS secrets: `own` (a public certificate from the policy's
   * Secret) and those of the sidecar's identity from the CA, when its listener needs them.
   */
  private async secured(
    of: { snapshot: Snapshot; identity: WorkloadIdentity; own: readonly NamedResource[] },
    now: Date,
    used: { identities: Set<string>; secured: Set<string> },
  ): Promise<Snapshot> {
    const { snapshot, identity, own } = of;
    const secretNames = missingSecrets(snapshot);
    for (const secret of own) secretNames.delete(secret.name);
    const certificates = this.options.certificates;
    const fromCa = secretNames.size > 0 && certificates !== undefined;
    if (!fromCa && own.length === 0) return snapshot;
    if (fromCa) used.identities.add(identityKey(identity));
    const secrets = [...own, ...(fromCa ? await certificates.secretsFor(identity, secretNames, now) : [])];
    const securedKey = `${snapshot.version}/${identityKey(identity)}/${secrets.map((s) => resourceJson(s.resource)).join("/")}`;
    used.secured.add(securedKey);
    const secured = this.securedMemo.get(securedKey) ?? withSecrets(snapshot, secrets);
    this.securedMemo.set(securedKey, secured);
    this.options.onSecrets?.(secured, secrets);
    return secured;
  }

  private set(nodeId: string, snapshot: Snapshot, workload: WorkloadIR): void {
    const cache = this.options.cache;
    // The very snapshot the cache serves already (checked and set before): nothing to set again.
    const result = cache.getSnapshot(nodeId) === snapshot ? { ok: true as const, changed: false } : cache.setSnapshot(nodeId, snapshot);
    if (!result.ok) {
      this.options.log.error({ sidecar: nodeId, problems: result.problems }, "refusing an inconsistent snapshot; the sidecar keeps its previous one");
      return;
    }
    if (result.changed) {
      this.options.metrics.snapshotUpdates.inc();
      this.pushedAt.set(nodeId, performance.now());
    }
    const config = workload.policy ? { policyKey: `${workload.policy.namespace}/${workload.policy.name}`, generation: workload.policy.generation } : {};
    const previous = this.running.get(nodeId);
    this.running.set(nodeId, config);
    if (cache.isInSync(nodeId)) this.acked.set(nodeId, config);
    if (result.changed || previous?.policyKey !== config.policyKey || previous?.generation !== config.generation) this.options.onReportChange?.(nodeId);
  }

  private clearUnwanted(wanted: ReadonlySet<string>, held: ReadonlySet<string>): string[] {
    const cache = this.options.cache;
    const cleared: string[] = [];
    for (const nodeId of cache.nodeIds()) {
      if (!wanted.has(nodeId) && !held.has(nodeId) && cache.getSnapshot(nodeId)) {
        cache.clearSnapshot(nodeId);
        this.running.delete(nodeId);
        this.acked.delete(nodeId);
        this.options.onReportChange?.(nodeId);
        cleared.push(nodeId);
      }
    }
    return cleared;
  }

  /** A sidecar acknowledged a type; true when that completed a push (the whole snapshot is acknowledged now). */
  acknowledged(nodeId: string): boolean {
    const cache = this.options.cache;
    if (!cache.isInSync(nodeId)) return false;
    const config = this.running.get(nodeId);
    if (config) this.acked.set(nodeId, config);
    const pushed = this.pushedAt.get(nodeId);
    if (pushed === undefined) return false;
    this.options.metrics.pushSeconds.observe((performance.now() - pushed) / 1000);
    this.pushedAt.delete(nodeId);
    return true;
  }

  /** The sidecars that have a snapshot of this replica. */
  sidecars(): Set<string> {
    return new Set(this.running.keys());
  }

  /** What this replica knows about a sidecar; undefined when it never heard from it. */
  ownReport(nodeId: string): SidecarReport | undefined {
    const cache = this.options.cache;
    const streams = cache.openStreams(nodeId);
    if (streams === 0 && !cache.hasAckState(nodeId)) return undefined;
    const nack = cache.currentRejection(nodeId)?.error;
    const config = cache.isInSync(nodeId) ? this.running.get(nodeId) : this.acked.get(nodeId);
    const report: SidecarReport = { connected: streams > 0 };
    if (config?.policyKey !== undefined) report.policy = config.policyKey;
    if (config?.generation !== undefined) report.generation = config.generation;
    if (nack !== undefined) report.nack = nack;
    return report;
  }

  /** This replica's reports, for the other replicas (and for its own next start). */
  ownReports(): Map<string, SidecarReport> {
    const out = new Map<string, SidecarReport>();
    for (const nodeId of this.options.cache.nodeIds()) {
      const report = this.ownReport(nodeId);
      if (report) out.set(nodeId, report);
    }
    return out;
  }
}

/** JSON of SDS secret resources by object: the CA hands back the same object until it renews a certificate. */
const resourceJsonMemo = new WeakMap<object, string>();

function resourceJson(resource: unknown): string {
  if (typeof resource !== "object" || resource === null) return JSON.stringify(resource);
  let json = resourceJsonMemo.get(resource);
  if (json === undefined) {
    json = JSON.stringify(resource);
    resourceJsonMemo.set(resource, json);
  }
  return json;
}

/**
 * The SDS secret of the workload's public certificate, when its listener serves one and its
 * Secret is usable (an unusable one leaves the listener refusing connections, with no secret).
 * It comes from the resolution, not the IR: the private key never enters the IR or a render.
 */
function publicCertificateSecrets(translation: Translation, workload: WorkloadIR): NamedResource[] {
  const wanted = workload.listener.tls?.publicCertificate;
  if (!wanted?.usable || !workload.policy) return [];
  const resolved = policyOf(translation.resolution, workload.policy)?.publicCertificate;
  if (resolved?.sdsName !== wanted.sdsName || !resolved.pem) return [];
  return [publicCertificateSecret(resolved.sdsName, resolved.pem)];
}
