import { performance } from "node:perf_hooks";
import type { MeshIR, MeshSettings, WorkloadIR } from "../../contract/ir.js";
import type { Snapshot } from "../../envoy/snapshot/snapshot.js";
import { shortTypeName } from "../../envoy/type-urls.js";
import type { SidecarCertificates } from "../identity/workload-certificates.js";
import type { TranslationInput } from "../resolve/objects.js";
import { CaRunner } from "./ca-runner.js";
import type { ControllerMetrics } from "./metrics.js";
import type { CaRotationPort, Clock, Leadership, Logger, ObjectSource, ReportBook, StatusSink, XdsCache } from "./ports.js";
import { ReconcileQueue } from "./reconcile-queue.js";
import { SnapshotRunner } from "./snapshot-runner.js";
import { StatusRunner } from "./status-runner.js";
import { TranslationRunner } from "./translation-runner.js";
import type { Translation } from "../translate/translate.js";

export interface ControllerOptions {
  /** The watched objects (its changes call `schedule`: see wiring.ts). */
  objects: ObjectSource;
  writer: StatusSink;
  /** Shares what the sidecars run between replicas. */
  reports: ReportBook;
  cache: XdsCache;
  leadership: Leadership;
  clock: Clock;
  metrics: ControllerMetrics;
  log: Logger;
  /** Encodes a workload's Envoy resources (with the mesh's egress proxy when there is a mesh) into a snapshot (pure). */
  buildSnapshot: (workload: WorkloadIR, mesh?: MeshIR) => Snapshot;
  /** Follows the CA Secret: a new root is staged, pushed in the trust bundle, then issues once the sidecars have it. */
  caRotation?: CaRotationPort;
  /** How long a staged CA waits for sidecars that do not acknowledge the new trust bundle (default 10 s). */
  caActivationTimeoutMs?: number;
  /** Mesh identity: set when `certificates` serve SDS; every sidecar then gets the egress proxy with mTLS. */
  mesh?: MeshSettings;
  /** Whether the installation runs bulwark telemetry (--telemetry-address); without it, policies with spec.telemetry get a warning. */
  telemetryReceiver?: boolean;
  /**
   * Coalesce bursts of events into one reconcile (default 10 ms): at most one reconcile starts in
   * this long; an event after a quiet spell of at least this long is reconciled at once.
   */
  debounceMs?: number;
  /** OpenID Connect Discovery (operator/oidc/discovery-book.ts): adds the discovered jwks_uris to each translation's input. */
  discovery?: { complete(input: TranslationInput): TranslationInput; stop(): void };
  /** The workload CA: SDS secrets (workload certificate, trust bundle) for sidecars whose listener uses TLS. */
  certificates?: SidecarCertificates;
}

const RECONCILE = "reconcile";
const STATUS = "status";
const NEXT_CHANGE = "next-change";

/**
 * Runs the controller's runners in order on one line of work: on a change of objects, translation
 * (translation-runner.ts), then the sidecars' snapshots (snapshot-runner.ts) with the workload CA
 * (ca-runner.ts), then — as leader — status (status-runner.ts), which the sidecars'
 * acknowledgements also trigger. Each runner is given its inputs; this class owns none of the I/O.
 */
export class Controller {
  private readonly queue: ReconcileQueue;
  private readonly translation: TranslationRunner;
  private readonly snapshots: SnapshotRunner;
  private readonly ca: CaRunner;
  private readonly status: StatusRunner;
  private reconciles = 0;
  /** When the last reconcile started (performance.now). */
  private lastReconcileAt = Number.NEGATIVE_INFINITY;
  private servedCertificates: readonly { name: string; certificateChain: string }[] = [];

  constructor(private readonly options: ControllerOptions) {
    const { cache, reports, writer, leadership, clock, log, metrics, certificates } = options;
    this.queue = new ReconcileQueue(log);
    this.translation = new TranslationRunner(options.mesh, options.telemetryReceiver === true);
    this.ca = new CaRunner({
      ...(options.caRotation ? { rotation: options.caRotation } : {}),
      ...(certificates ? { certificates } : {}),
      ...(options.caActivationTimeoutMs !== undefined ? { activationTimeoutMs: options.caActivationTimeoutMs } : {}),
      cache,
      reports,
      writer,
      leadership,
      queue: this.queue,
      clock,
      log,
      reconcile: () => this.schedule(),
    });
    this.snapshots = new SnapshotRunner({
      cache,
      buildSnapshot: options.buildSnapshot,
      ...(certificates ? { certificates } : {}),
      metrics,
      log,
      onSecrets: (snapshot, secrets) => this.ca.rememberBundle(snapshot, secrets),
      onReportChange: (nodeId) => this.status.sidecarChanged(nodeId),
    });
    this.status = new StatusRunner({
      objects: options.objects,
      writer,
      reports,
      leadership,
      clock,
      sidecars: { ownReport: (id) => this.snapshots.ownReport(id), isInSync: (id) => cache.isInSync(id) },
      countPolicies: (ready) => metrics.countPolicies(ready),
      log: options.log,
      // follow() and the snapshot runner tell the status runner of every change of a sidecar's report.
      changesTold: true,
    });
    this.follow();
  }

  /** What triggers the runners besides object changes: acknowledgements, connections, other replicas, leadership. */
  private follow(): void {
    const { cache, reports, leadership, metrics, log } = this.options;
    const checkActivation = (): void => this.ca.scheduleActivationCheck(() => this.snapshots.sidecars());
    reports.onChange(() => {
      this.status.everySidecarChanged();
      this.scheduleStatus();
      // Another replica's sidecars may have acknowledged a staged CA's roots.
      checkActivation();
    });
    cache.onAck((event) => {
      this.status.sidecarChanged(event.nodeId);
      metrics.acks.inc({ type: shortTypeName(event.typeUrl) });
      checkActivation();
      reports.schedule();
      const pushCompleted = this.snapshots.acknowledged(event.nodeId);
      if (cache.isInSync(event.nodeId)) this.ca.acknowledged(event.nodeId);
      if (pushCompleted) this.scheduleStatus();
    });
    cache.onNack((event) => {
      this.status.sidecarChanged(event.nodeId);
      metrics.nacks.inc({ type: shortTypeName(event.typeUrl) });
      reports.schedule();
      log.warn({ sidecar: event.nodeId, type: shortTypeName(event.typeUrl), error: event.error }, "sidecar rejected its configuration");
      this.scheduleStatus();
    });
    cache.onConnection((event) => {
      this.status.sidecarChanged(event.nodeId);
      log.info({ sidecar: event.nodeId, connected: cache.connectedSidecars() }, event.connected ? "sidecar connected" : "sidecar disconnected");
      metrics.connectedSidecars.set(cache.connectedSidecars());
      reports.schedule();
      this.scheduleStatus();
    });
    leadership.onChange((leader) => {
      this.status.everySidecarChanged();
      metrics.leader.set(leader ? 1 : 0);
      // Only the leader counts policies: a replica that lost the Lease must not keep reporting its last count.
      if (!leader) metrics.policies.reset();
      if (leader) this.scheduleStatus();
    });
  }

  async start(): Promise<void> {
    // The reports first: a restarted leader must know what its sidecars ran before it writes status.
    const trustedRoots = this.options.caRotation ? (): readonly string[] => this.ca.trustedRoots() ?? [] : undefined;
    await Promise.all([this.options.objects.start(), this.options.reports.start(() => this.snapshots.ownReports(), trustedRoots)]);
    this.schedule();
  }

  isSynced(): boolean {
    return this.options.objects.isSynced() && this.reconciles > 0;
  }

  /**
   * A reconcile in `delayMs` at the latest; one already due sooner covers this request too.
   * Without `delayMs`, the debounce (debounceMs) counts from the start of the last reconcile: a
   * change after a quiet spell is translated in the next turn of the event loop (events of the
   * same turn, such as one watch read, still make one reconcile), and a burst makes at most one
   * reconcile per debounce interval.
   */
  schedule(delayMs?: number): void {
    const delay = delayMs ?? Math.max(0, (this.options.debounceMs ?? 10) - (performance.now() - this.lastReconcileAt));
    this.queue.debounce(RECONCILE, delay, () => this.reconcile());
  }

  private scheduleStatus(): void {
    this.queue.debounce(STATUS, 20, () => this.writeStatus());
  }

  private async writeStatus(): Promise<void> {
    const started = performance.now();
    await this.status.write();
    this.options.metrics.reconcileStageSeconds.observe({ stage: "status" }, (performance.now() - started) / 1000);
  }

  private async reconcile(): Promise<void> {
    const { objects, reports, metrics, clock } = this.options;
    // A translation of partial lists would serve sidecars without the policies not listed yet.
    if (!objects.isListed()) return;
    const started = performance.now();
    this.lastReconcileAt = started;
    const now = clock();
    const observed = objects.translationInput(now.toISOString());
    const input = this.options.discovery ? this.options.discovery.complete(observed) : observed;
    const ca = await this.ca.observe(input.secrets);
    const translating = performance.now();
    const translation = this.translation.run(input);
    const publishing = performance.now();
    const publication = await this.snapshots.publish(translation, input.pods, now);
    const published = performance.now();
    for (const nodeId of publication.cleared) this.ca.forget(nodeId);
    this.ca.published(publication.wanted, ca, now);
    reports.retain(new Set([...publication.wanted, ...publication.held]));
    reports.schedule();
    this.status.published(translation);
    this.servedCertificates = servedPublicCertificates(translation);
    this.reconciles += 1;
    metrics.reconcileSeconds.observe((performance.now() - started) / 1000);
    const { resolveMs, irMs } = this.translation.timings;
    const stage = (name: string, ms: number): void => metrics.reconcileStageSeconds.observe({ stage: name }, ms / 1000);
    stage("input", translating - started);
    stage("resolve", resolveMs);
    stage("ir", irMs);
    stage("snapshots", published - publishing);
    this.scheduleNextChange(translation.resolution.nextChange, now);
    // The pushes first: the new snapshots reach the sidecars' streams before the status work.
    await new Promise((resolve) => setImmediate(resolve));
    await this.writeStatus();
  }

  /** The public certificates (spec.tls.certificate) the sidecars serve now, by SDS secret name (for their expiry metric). */
  publicCertificates(): readonly { name: string; certificateChain: string }[] {
    return this.servedCertificates;
  }

  /** A reconcile when the translation's output changes with time alone (a sunset), a second past it. */
  private scheduleNextChange(next: string | undefined, now: Date): void {
    this.queue.wakeUp(NEXT_CHANGE, next ? Date.parse(next) - now.getTime() + 1000 : undefined, () => this.schedule());
  }

  async stop(): Promise<void> {
    const drained = this.queue.stop(); // no timer fires and no job starts from here on
    this.options.discovery?.stop();
    await this.options.objects.stop();
    await drained;
    await this.options.reports.stop();
  }
}

function servedPublicCertificates(translation: Translation): { name: string; certificateChain: string }[] {
  return translation.resolution.policies.flatMap((p) =>
    p.publicCertificate?.pem ? [{ name: p.publicCertificate.sdsName, certificateChain: p.publicCertificate.pem.certificateChain }] : [],
  );
}
