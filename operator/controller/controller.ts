import type { KubeConfig } from "@kubernetes/client-node";
import { performance } from "node:perf_hooks";
import type { Logger } from "pino";
import { NAMES } from "../../envoy/build/resources.js";
import type { XdsServer } from "../../envoy/xds/server.js";
import { hashHex, type Snapshot } from "../../envoy/snapshot/snapshot.js";
import { shortTypeName, TypeUrl } from "../../envoy/xds/type-urls.js";
import { AcceptedReason, ConditionType, ProgrammedReason } from "../api/v1alpha1/conditions.js";
import { SidecarBypassCondition } from "../resolve/bypass.js";
import type { PolicyStatus } from "../api/v1alpha1/policy.js";
import { nextSunset } from "../ir/deprecations.js";
import type { MeshIR, MeshSettings, WorkloadIR } from "../../contract/ir.js";
import { missingSecrets, withSecrets } from "../../envoy/snapshot/secrets.js";
import { identityKey, identityOfPod, type WorkloadIdentity } from "../identity/spiffe.js";
import type { SidecarCertificates } from "../identity/workload-certificates.js";
import type { CaObservation, CaRotation } from "../identity/ca-rotation.js";
import { rootFingerprints } from "../identity/trust-bundle.js";
import type { ObjectMeta, SecretObject } from "../resolve/objects.js";
import { errorMessage } from "../../common/errors.js";
import { buildPerWorkload, translate, type Translation, type WorkloadFailure } from "../translate/translate.js";
import type { LeaderElector } from "../kube/leader-election.js";
import type { ControllerMetrics } from "./metrics.js";
import { meshScopeKeys } from "./mesh-scope.js";
import { ObjectStore } from "../kube/object-store.js";
import { desiredStatus, type SidecarObservation } from "./policy-status.js";
import { SidecarReports, type SidecarReport } from "./sidecar-reports.js";
import { StatusWriter } from "../kube/status-writer.js";
import { WarningEvents } from "./warning-events.js";

export interface ControllerOptions {
  kc: KubeConfig;
  xds: XdsServer;
  elector: LeaderElector;
  metrics: ControllerMetrics;
  log: Logger;
  /** Encodes a workload's Envoy resources (with the mesh's egress proxy when there is a mesh) into a snapshot (pure). */
  buildSnapshot: (workload: WorkloadIR, mesh?: MeshIR) => Snapshot;
  /** Follows the CA Secret: a new root is staged, pushed in the trust bundle, then issues once the sidecars have it. */
  caRotation?: CaRotation;
  /** How long a staged CA waits for sidecars that do not acknowledge the new trust bundle (default 10 s). */
  caActivationTimeoutMs?: number;
  /** Mesh identity: set when `certificates` serve SDS; every sidecar then gets the egress proxy with mTLS. */
  mesh?: MeshSettings;
  /** Coalesce bursts of events into one reconcile. */
  debounceMs?: number;
  /**
   * How long a Pod change (an IP, readiness, a new pod) waits for others before a reconcile
   * (default 500 ms): a pod whose IP flaps makes at most one push every this long, however fast it flaps.
   */
  podDebounceMs?: number;
  /** Shares what the sidecars run between replicas (default: records next to the elector's Lease). */
  reports?: SidecarReports;
  clock?: () => Date;
  /** The workload CA: SDS secrets (workload certificate, trust bundle) for sidecars whose listener uses TLS. */
  certificates?: SidecarCertificates;
}

interface RunningConfig {
  policyKey?: string;
  generation?: number;
}

/**
 * Watches objects, runs the pure translation on change, feeds the snapshot cache (only sidecars
 * whose output changed get a push), and — as leader — writes status that reflects what the
 * sidecars acknowledged.
 */
export class Controller {
  private readonly store: ObjectStore;
  private readonly writer: StatusWriter;
  private readonly bypassEvents: WarningEvents;
  private readonly warningEvents: WarningEvents;
  private readonly reports: SidecarReports;
  private lastGarbageCollection = 0;
  private readonly clock: () => Date;
  private readonly snapshotMemo = new Map<string, Snapshot>();
  private readonly running = new Map<string, RunningConfig>();
  /**
   * What each sidecar runs as far as policy goes: the config of the last snapshot it acknowledged
   * in full. A push that changes only endpoints keeps it, so the policy does not turn Pending.
   */
  private readonly acked = new Map<string, RunningConfig>();
  private readonly pushedAt = new Map<string, number>();
  /** Roots (fingerprints) of each trust bundle this replica served, by the bundle resource's version; a few at most. */
  private readonly bundleRoots = new Map<string, readonly string[]>();
  /** Roots of the trust bundle each sidecar last acknowledged in full ("any": its configuration has no bundle, it verifies no peer). */
  private readonly ackedRoots = new Map<string, readonly string[] | "any">();
  private readonly reported = new Map<string, string>();
  private last: Translation | undefined;
  private lastMesh: { key: string; mesh: MeshIR } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private timerDue = 0;
  private statusTimer: NodeJS.Timeout | undefined;
  private sunsetTimer: NodeJS.Timeout | undefined;
  private renewalTimer: NodeJS.Timeout | undefined;
  private activationTimer: NodeJS.Timeout | undefined;
  private activationCheck = false;
  /** Snapshots with a workload's SDS secrets, by snapshot version and secrets. */
  private readonly securedMemo = new Map<string, Snapshot>();
  private busy: Promise<void> = Promise.resolve();
  private stopped = false;
  private reconciles = 0;

  constructor(private readonly options: ControllerOptions) {
    this.clock = options.clock ?? ((): Date => new Date());
    this.store = new ObjectStore(options.kc, (kind) => this.schedule(kind === "pods" ? (options.podDebounceMs ?? 500) : undefined), options.log, {
      ...(options.caRotation ? { namedSecrets: [options.caRotation.secret] } : {}),
    });
    this.writer = new StatusWriter(options.kc, options.log, options.metrics);
    this.bypassEvents = new WarningEvents(this.writer, SidecarBypassCondition);
    this.warningEvents = new WarningEvents(this.writer, ConditionType.Warnings, true);
    const lease = options.elector.lease;
    this.reports = options.reports ?? new SidecarReports(options.kc, { namespace: lease.namespace, leaseName: lease.name, identity: lease.identity }, options.log);
    this.reports.onChange(() => {
      this.scheduleStatus();
      // Another replica's sidecars may have acknowledged a staged CA's roots.
      if (options.caRotation?.pending()) this.scheduleActivationCheck();
    });
    const cache = options.xds.cache;
    cache.onAck((event) => {
      options.metrics.acks.inc({ type: shortTypeName(event.typeUrl) });
      if (options.caRotation?.pending()) this.scheduleActivationCheck();
      this.reports.schedule();
      const config = this.running.get(event.nodeId);
      if (config && cache.isInSync(event.nodeId)) this.acked.set(event.nodeId, config);
      if (cache.isInSync(event.nodeId)) this.recordAckedRoots(event.nodeId);
      const pushed = this.pushedAt.get(event.nodeId);
      if (pushed !== undefined && cache.isInSync(event.nodeId)) {
        options.metrics.pushSeconds.observe((performance.now() - pushed) / 1000);
        this.pushedAt.delete(event.nodeId);
        this.scheduleStatus();
      }
    });
    cache.onNack((event) => {
      options.metrics.nacks.inc({ type: shortTypeName(event.typeUrl) });
      this.reports.schedule();
      options.log.warn({ sidecar: event.nodeId, type: shortTypeName(event.typeUrl), error: event.error }, "sidecar rejected its configuration");
      this.scheduleStatus();
    });
    cache.onConnection(() => {
      options.metrics.connectedSidecars.set(cache.connectedSidecars());
      this.reports.schedule();
      this.scheduleStatus();
    });
    options.elector.onChange((leader) => {
      options.metrics.leader.set(leader ? 1 : 0);
      if (leader) this.scheduleStatus();
    });
  }

  async start(): Promise<void> {
    // The reports first: a restarted leader must know what its sidecars ran before it writes status.
    const rotation = this.options.caRotation;
    await Promise.all([this.store.start(), this.reports.start(() => this.ownReports(), rotation ? (): readonly string[] => this.trustedRoots(rotation) : undefined)]);
    this.schedule();
  }

  isSynced(): boolean {
    return this.store.isSynced() && this.reconciles > 0;
  }

  /** Runs `work` after whatever runs now: reconciles never overlap. */
  private serialized(work: () => Promise<void> | void): void {
    this.busy = this.busy.then(work).catch((error: unknown) => {
      this.options.log.error({ err: error instanceof Error ? (error.stack ?? error.message) : String(error) }, "reconcile failed; the previous snapshots stay in place");
    });
  }

  /** A reconcile in `delayMs` at the latest; one already due sooner covers this request too. */
  schedule(delayMs = this.options.debounceMs ?? 10): void {
    if (this.stopped) return;
    const due = performance.now() + delayMs;
    if (this.timer && this.timerDue <= due) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerDue = due;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.serialized(() => this.reconcile());
    }, delayMs);
  }

  private scheduleStatus(): void {
    if (this.stopped || this.statusTimer) return;
    this.statusTimer = setTimeout(() => {
      this.statusTimer = undefined;
      this.serialized(() => this.writeStatuses());
    }, 20);
  }

  private snapshotFor(workload: WorkloadIR, key: string, mesh: MeshIR | undefined): Snapshot {
    let snapshot = this.snapshotMemo.get(key);
    if (!snapshot) {
      snapshot = this.options.buildSnapshot(workload, mesh);
      this.snapshotMemo.set(key, snapshot);
    }
    return snapshot;
  }

  private async reconcile(): Promise<void> {
    // A translation of partial lists would serve sidecars without the policies not listed yet.
    if (!this.store.isListed()) return;
    const started = performance.now();
    const now = this.clock();
    const input = this.store.translationInput(now.toISOString());
    const ca = await this.options.caRotation?.observe(input.secrets);
    if (ca?.kind === "staged" || ca?.kind === "unstaged") {
      // A new (or withdrawn) staged CA: the acknowledgement timeout starts again for whatever is staged now.
      if (this.activationTimer) clearTimeout(this.activationTimer);
      this.activationTimer = undefined;
    }
    if (ca?.kind === "staged" || ca?.kind === "refused") await this.caEvent(ca, input.secrets);
    const translation = translate(input, this.options.mesh);
    // A hash of the mesh, not its JSON, to tell it unchanged (snapshots depend only on their egress scope's part: mesh-scope.ts).
    const meshKey = translation.ir.mesh ? hashHex(JSON.stringify(translation.ir.mesh)) : "";
    // An unchanged mesh keeps its object, so its Envoy resources (built and encoded per mesh object) are reused.
    if (translation.ir.mesh && this.lastMesh?.key === meshKey) translation.ir.mesh = this.lastMesh.mesh;
    this.lastMesh = translation.ir.mesh ? { key: meshKey, mesh: translation.ir.mesh } : undefined;
    const cache = this.options.xds.cache;
    const wanted = new Set<string>();
    const usedKeys = new Set<string>();
    const identities = new Map<string, WorkloadIdentity>();
    for (const pod of input.pods) {
      const p = pod as { metadata: { name: string; namespace?: string }; spec?: { serviceAccountName?: string } };
      identities.set(`${p.metadata.name}.${p.metadata.namespace ?? "default"}`, identityOfPod(p));
    }
    const usedIdentities = new Set<string>();
    const usedSecured = new Set<string>();
    // A workload whose snapshot cannot be built fails its policy alone (its sidecars keep their last good configuration).
    const meshScopeKey = meshScopeKeys(translation.ir.mesh);
    const { built, failed } = buildPerWorkload(translation, (workload) => {
      const { sidecars: _s, ...content } = workload;
      // Memo key only (snapshot versions hash the encoded resources): translation builds equal IR in
      // the same key order, so plain JSON is enough, and 5x cheaper than sorted JSON at 1,000 workloads.
      const key = `${meshScopeKey(workload)}\u0000${JSON.stringify(content)}`;
      return { key, snapshot: this.snapshotFor(workload, key, translation.ir.mesh) };
    });
    for (const failed of translation.resolution.policies.filter((p) => p.accepted.reason === AcceptedReason.TranslationFailed)) {
      this.options.log.error({ policy: `${failed.namespace}/${failed.name}`, error: failed.accepted.message }, "translation of a policy failed; its sidecars keep their last good configuration");
    }
    for (const { workload, built: { key, snapshot: workloadSnapshot } } of built) {
      const secretNames = missingSecrets(workloadSnapshot);
      usedKeys.add(key);
      for (const nodeId of workload.sidecars) {
        wanted.add(nodeId);
        let snapshot = workloadSnapshot;
        const certificates = this.options.certificates;
        if (secretNames.size > 0 && certificates) {
          const identity = identities.get(nodeId) ?? { namespace: workload.namespace, serviceAccount: "default" };
          usedIdentities.add(identityKey(identity));
          const secrets = await certificates.secretsFor(identity, secretNames, now);
          const securedKey = `${workloadSnapshot.version}/${identityKey(identity)}/${secrets.map((s) => JSON.stringify(s.resource)).join("/")}`;
          usedSecured.add(securedKey);
          snapshot = this.securedMemo.get(securedKey) ?? withSecrets(workloadSnapshot, secrets);
          this.securedMemo.set(securedKey, snapshot);
          this.rememberBundle(snapshot, secrets);
        }
        const result = cache.setSnapshot(nodeId, snapshot);
        if (!result.ok) {
          this.options.log.error({ sidecar: nodeId, problems: result.problems }, "refusing an inconsistent snapshot; the sidecar keeps its previous one");
          continue;
        }
        if (result.changed) {
          this.options.metrics.snapshotUpdates.inc();
          this.pushedAt.set(nodeId, performance.now());
        }
        const config = workload.policy ? { policyKey: `${workload.policy.namespace}/${workload.policy.name}`, generation: workload.policy.generation } : {};
        this.running.set(nodeId, config);
        if (cache.isInSync(nodeId)) this.acked.set(nodeId, config);
      }
    }
    const held = this.heldSidecars(translation, failed);
    for (const nodeId of cache.nodeIds()) {
      if (!wanted.has(nodeId) && !held.has(nodeId) && cache.getSnapshot(nodeId)) {
        cache.clearSnapshot(nodeId);
        this.running.delete(nodeId);
        this.acked.delete(nodeId);
        this.ackedRoots.delete(nodeId);
      }
    }
    for (const key of this.snapshotMemo.keys()) if (!usedKeys.has(key)) this.snapshotMemo.delete(key);
    for (const key of this.securedMemo.keys()) if (!usedSecured.has(key)) this.securedMemo.delete(key);
    this.options.certificates?.retain(usedIdentities);
    this.scheduleRenewal(now);
    if (ca?.kind === "staged" || this.options.caRotation?.pending()) this.checkActivation(wanted);
    this.reports.retain(new Set([...wanted, ...held]));
    this.reports.schedule();
    this.last = translation;
    this.reconciles += 1;
    this.options.metrics.reconcileSeconds.observe((performance.now() - started) / 1000);
    this.scheduleSunset(input.policies, now);
    await this.writeStatuses();
  }

  /** Sidecars kept at their last good configuration: their policy failed, or (pass-through) their own build did. */
  private heldSidecars(translation: Translation, failed: readonly WorkloadFailure[]): Set<string> {
    for (const f of failed.filter((f) => !f.workload.policy)) {
      this.options.log.error({ workload: f.workload.name, sidecars: f.workload.sidecars, error: errorMessage(f.error) }, "the Envoy resources of pass-through sidecars could not be built; they keep their last good configuration");
    }
    return new Set([...translation.resolution.policies.flatMap((p) => p.held), ...failed.flatMap((f) => f.workload.sidecars)]);
  }

  private scheduleSunset(policies: unknown[], now: Date): void {
    if (this.sunsetTimer) clearTimeout(this.sunsetTimer);
    const next = policies
      .map((p) => nextSunset((p as { spec?: { mobile?: { deprecations?: { sunsetAt: string; deprecatedAt: string; pathPrefix: string }[] } } }).spec?.mobile?.deprecations, now.toISOString()))
      .filter((t): t is string => t !== undefined)
      .sort()[0];
    if (!next) return;
    const delay = Math.min(new Date(next).getTime() - now.getTime() + 1000, 2_147_000_000);
    this.sunsetTimer = setTimeout(() => this.schedule(), delay);
    this.sunsetTimer.unref();
  }

  /** The CA Secret's Events (leader only): a new root being rolled out, or why the Secret is not used. */
  private async caEvent(observation: CaObservation, secrets: readonly SecretObject[]): Promise<void> {
    const rotation = this.options.caRotation;
    if (!rotation || !this.options.elector.isLeader()) return;
    if (observation.kind === "refused" && !observation.first) return;
    const { namespace, name } = rotation.secret;
    const uid = secrets.find((s) => s.metadata.name === name && (s.metadata.namespace ?? "default") === namespace)?.metadata.uid;
    const ref = { namespace, name, ...(uid ? { uid } : {}) };
    const involved = { apiVersion: "v1", kind: "Secret" };
    if (observation.kind === "refused") await this.writer.event(ref, "Warning", "InvalidWorkloadCA", observation.message, involved);
    else await this.writer.event(ref, "Normal", "WorkloadCARotating", "A new workload CA: sidecars trust its root alongside the old one, then get certificates it issues; the old root stays trusted until its certificates expire.", involved);
  }

  private scheduleActivationCheck(): void {
    if (this.activationCheck || this.stopped) return;
    this.activationCheck = true;
    this.serialized(() => {
      this.activationCheck = false;
      this.checkActivation(new Set(this.running.keys()));
    });
  }

  /** Remembers the roots of the trust bundle in `snapshot` by the bundle's resource version. */
  private rememberBundle(snapshot: Snapshot, secrets: readonly { name: string; resource: unknown }[]): void {
    const version = snapshot.resources.get(TypeUrl.Secret)?.get(NAMES.trustBundle)?.version;
    const bundle = secrets.find((s) => s.name === NAMES.trustBundle)?.resource as { validation_context?: { trusted_ca?: { inline_string?: string } } } | undefined;
    const pem = bundle?.validation_context?.trusted_ca?.inline_string;
    if (version === undefined || pem === undefined || this.bundleRoots.has(version)) return;
    this.bundleRoots.set(version, rootFingerprints(pem));
    // Bundles change only with the CA (staged, activated, a retired root expiring): a few versions cover every sidecar.
    for (const old of this.bundleRoots.keys()) {
      if (this.bundleRoots.size <= 16) break;
      this.bundleRoots.delete(old);
    }
  }

  /** What `nodeId` trusts now that it acknowledged its whole snapshot. */
  private recordAckedRoots(nodeId: string): void {
    const bundle = this.options.xds.cache.getSnapshot(nodeId)?.resources.get(TypeUrl.Secret)?.get(NAMES.trustBundle);
    this.ackedRoots.set(nodeId, bundle ? (this.bundleRoots.get(bundle.version) ?? []) : "any");
  }

  /**
   * The roots that every sidecar connected to this replica has acknowledged, among those this
   * replica serves (published in its report, so the other replicas activate a staged CA only once
   * this replica's sidecars can verify its certificates).
   */
  private trustedRoots(rotation: CaRotation): readonly string[] {
    const cache = this.options.xds.cache;
    let trusted = new Set(rotation.bundleRoots());
    for (const nodeId of cache.nodeIds()) {
      if (cache.statusInfo(nodeId).streams === 0 || !cache.getSnapshot(nodeId)) continue;
      const acked = this.ackedRoots.get(nodeId) ?? [];
      if (acked === "any") continue;
      trusted = new Set(acked.filter((root) => trusted.has(root)));
    }
    return [...trusted].sort();
  }

  /**
   * A staged CA issues once every connected sidecar runs the trust bundle with its roots (all of
   * them acknowledged their snapshot) and every other live replica reports the same of its own
   * sidecars, or after a timeout for sidecars and replicas that do not answer. A replica whose
   * report Lease has expired (not renewed for its staleness bound, 30 s) is gone and not waited for.
   */
  private checkActivation(sidecars: ReadonlySet<string>): void {
    const rotation = this.options.caRotation;
    if (!rotation?.pending()) return;
    const cache = this.options.xds.cache;
    const waiting = [...sidecars].filter((id) => cache.statusInfo(id).streams > 0 && !cache.isInSync(id));
    const replicas = this.reports.replicasNotTrusting(rotation.stagedRoots());
    if (waiting.length > 0 || replicas.length > 0) {
      this.activationTimer ??= setTimeout(() => {
        this.activationTimer = undefined;
        this.serialized(() => {
          if (!rotation.pending()) return;
          this.options.log.warn(
            { replicas: this.reports.replicasNotTrusting(rotation.stagedRoots()) },
            "sidecars or replicas did not acknowledge the new trust bundle in time; the new workload CA issues anyway",
          );
          rotation.activate(this.clock());
          this.schedule();
        });
      }, this.options.caActivationTimeoutMs ?? 10_000);
      return;
    }
    if (this.activationTimer) clearTimeout(this.activationTimer);
    this.activationTimer = undefined;
    rotation.activate(this.clock());
    this.schedule();
  }

  /** A reconcile when the first workload certificate is due for renewal (it renews them and pushes SDS). */
  private scheduleRenewal(now: Date): void {
    if (this.renewalTimer) clearTimeout(this.renewalTimer);
    const next = this.options.certificates?.nextRenewal();
    if (!next || this.stopped) return;
    this.renewalTimer = setTimeout(() => this.schedule(), Math.min(Math.max(0, next.getTime() - now.getTime()) + 10, 2_147_000_000));
    this.renewalTimer.unref();
  }

  /** What this replica knows about a sidecar; undefined when it never heard from it. */
  private ownReport(nodeId: string): SidecarReport | undefined {
    const cache = this.options.xds.cache;
    const info = cache.statusInfo(nodeId);
    const types = Object.values(info.types);
    if (types.length === 0 && info.streams === 0) return undefined;
    const nack = cache.currentRejection(nodeId)?.error;
    const config = cache.isInSync(nodeId) ? this.running.get(nodeId) : this.acked.get(nodeId);
    return {
      ...(config?.policyKey !== undefined ? { policy: config.policyKey } : {}),
      ...(config?.generation !== undefined ? { generation: config.generation } : {}),
      ...(nack !== undefined ? { nack } : {}),
      connected: info.streams > 0,
    };
  }

  /** This replica's reports, for the other replicas (and for its own next start). */
  private ownReports(): Map<string, SidecarReport> {
    const out = new Map<string, SidecarReport>();
    for (const nodeId of this.options.xds.cache.nodeIds()) {
      const report = this.ownReport(nodeId);
      if (report) out.set(nodeId, report);
    }
    return out;
  }

  /**
   * What a sidecar runs, as well as any replica knows it: this replica's word when the sidecar is
   * connected here and settled (ACKed or NACKed); else that of a replica it is connected to; else
   * what this replica saw last; else what this identity saw before a restart; else the newest
   * word of any replica.
   */
  private report(nodeId: string): SidecarReport | undefined {
    const own = this.ownReport(nodeId);
    const settled = (r: SidecarReport | undefined): boolean => r !== undefined && (this.options.xds.cache.isInSync(nodeId) || r.nack !== undefined);
    if (own && settled(own)) {
      this.reports.forget(nodeId);
      if (own.connected) return own;
    }
    const inherited = this.reports.inheritedReport(nodeId);
    if (own?.connected) return inherited ?? own; // reconnecting after a restart, or a push not yet ACKed
    const remote = this.reports.fromOthers(nodeId);
    if (remote?.connected) return remote;
    if (own && settled(own)) return own;
    return inherited ?? remote ?? own;
  }

  private observation(): SidecarObservation {
    return {
      runningGeneration: (nodeId, policyKey): number | undefined => {
        const report = this.report(nodeId);
        return report?.policy === policyKey ? report.generation : undefined;
      },
      rejection: (nodeId): string | undefined => this.report(nodeId)?.nack,
    };
  }

  private async writeStatuses(): Promise<void> {
    if (!this.options.elector.isLeader() || !this.last) return;
    if (Date.now() - this.lastGarbageCollection > 600_000) {
      this.lastGarbageCollection = Date.now();
      await this.reports.collectGarbage(3600);
    }
    const observe = this.observation();
    const now = this.clock().toISOString().replace(/\.\d{3}Z$/, "Z");
    const raw = new Map<string, { metadata: ObjectMeta; status?: PolicyStatus }>();
    for (const p of this.store.translationInput(now).policies) {
      const object = p as { metadata: ObjectMeta; status?: PolicyStatus };
      raw.set(`${object.metadata.namespace ?? "default"}/${object.metadata.name}`, object);
    }
    await Promise.all(
      this.last.resolution.policies.map(async (resolved) => {
        const key = `${resolved.namespace}/${resolved.name}`;
        const object = raw.get(key);
        if (!object || (object.metadata.generation ?? 0) !== resolved.generation) return; // changed meanwhile; the next reconcile covers it
        const desired = desiredStatus(resolved, observe, object.status, now);
        const ref = { namespace: resolved.namespace, name: resolved.name, ...(object.metadata.uid ? { uid: object.metadata.uid } : {}) };
        // What the status already says was announced (by this replica before a restart, or by the previous leader).
        if (!this.reported.has(key) && object.status) this.reported.set(key, eventSignature(object.status));
        await this.writer.write(ref, object.status, desired);
        await this.recordEvents(key, ref, desired);
        await this.bypassEvents.record(key, ref, resolved.sidecarBypass, object.status);
        await this.warningEvents.record(key, ref, resolved.warnings.status === "True" ? resolved.warnings : undefined, object.status);
      }),
    );
    const keys = new Set(this.last.resolution.policies.map((p) => `${p.namespace}/${p.name}`));
    this.bypassEvents.retain(keys);
    this.warningEvents.retain(keys);
  }

  /** One Event per change of what the policy's status says (accepted, rejected, programmed, NACKed). */
  private async recordEvents(key: string, ref: { namespace: string; name: string; uid?: string }, status: PolicyStatus): Promise<void> {
    const accepted = status.conditions?.find((c) => c.type === "Accepted");
    const programmed = status.conditions?.find((c) => c.type === "Programmed");
    const signature = eventSignature(status);
    if (this.reported.get(key) === signature) return;
    this.reported.set(key, signature);
    if (accepted && accepted.reason !== AcceptedReason.Accepted) {
      await this.writer.event(ref, "Warning", accepted.reason, accepted.message);
      return;
    }
    if (programmed?.reason === ProgrammedReason.Rejected) await this.writer.event(ref, "Warning", "Rejected", programmed.message);
    else if (programmed?.reason === ProgrammedReason.Programmed) await this.writer.event(ref, "Normal", "Programmed", programmed.message);
    else if (accepted) await this.writer.event(ref, "Normal", "Accepted", `Generation ${status.observedGeneration ?? 0} accepted; programming its sidecars.`);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of [this.timer, this.statusTimer, this.sunsetTimer, this.renewalTimer, this.activationTimer]) if (t) clearTimeout(t);
    await this.store.stop();
    await this.busy;
    await this.reports.stop();
  }
}

/** What an Event announces about a status: its generation and the reasons of Accepted and Programmed. */
function eventSignature(status: PolicyStatus): string {
  const accepted = status.conditions?.find((c) => c.type === "Accepted");
  const programmed = status.conditions?.find((c) => c.type === "Programmed");
  return `${status.observedGeneration ?? 0}/${accepted?.reason ?? ""}/${programmed?.reason ?? ""}`;
}
