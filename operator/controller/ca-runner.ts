import { NAMES } from "../../envoy/build/resources.js";
import type { Snapshot } from "../../envoy/snapshot/snapshot.js";
import { XdsType } from "../../envoy/type-urls.js";
import type { CaObservation } from "../identity/ca-rotation.js";
import { rootFingerprints } from "../identity/trust-bundle.js";
import type { SidecarCertificates } from "../identity/workload-certificates.js";
import type { SecretObject } from "../resolve/objects.js";
import type { CaRotationPort, Clock, Leadership, Logger, ReportBook, StatusSink, XdsCache } from "./ports.js";
import type { ReconcileQueue } from "./reconcile-queue.js";

export interface CaRunnerOptions {
  /** Follows the CA Secret: a new root is staged, pushed in the trust bundle, then issues once the sidecars have it. */
  rotation?: CaRotationPort;
  /** The workload CA: its certificates are renewed at `nextRenewal()`. */
  certificates?: SidecarCertificates;
  cache: XdsCache;
  reports: Pick<ReportBook, "replicasNotTrusting">;
  writer: StatusSink;
  leadership: Pick<Leadership, "isLeader">;
  queue: ReconcileQueue;
  clock: Clock;
  log: Logger;
  /** Asks for a reconcile (it issues with the activated CA, renews certificates and pushes SDS). */
  reconcile: () => void;
  /** How long a staged CA waits for sidecars that do not acknowledge the new trust bundle (default 10 s). */
  activationTimeoutMs?: number;
}

const ACTIVATION = "ca-activation";
const RENEWAL = "certificate-renewal";

/**
 * The workload CA's moving parts over time: a new CA Secret is announced (Events), staged, and
 * activated once every sidecar (of this replica and of the others) acknowledged the trust bundle
 * with its roots, or after a timeout; workload certificates are renewed when due.
 */
export class CaRunner {
  /** Roots (fingerprints) of each trust bundle this replica served, by the bundle resource's version; a few at most. */
  private readonly bundleRoots = new Map<string, readonly string[]>();
  /** Roots of the trust bundle each sidecar last acknowledged in full ("any": its configuration has no bundle, it verifies no peer). */
  private readonly ackedRoots = new Map<string, readonly string[] | "any">();
  private activationCheck = false;

  constructor(private readonly options: CaRunnerOptions) {}

  /** Reads the CA Secret (at the start of a reconcile); a new or withdrawn staged CA restarts the acknowledgement timeout. */
  async observe(secrets: readonly SecretObject[]): Promise<CaObservation | undefined> {
    const observation = await this.options.rotation?.observe(secrets);
    if (observation?.kind === "staged" || observation?.kind === "unstaged") this.options.queue.cancel(ACTIVATION);
    if (observation?.kind === "staged" || observation?.kind === "refused") await this.announce(observation, secrets);
    return observation;
  }

  /** The CA Secret's Events (leader only): a new root being rolled out, or why the Secret is not used. */
  private async announce(observation: CaObservation, secrets: readonly SecretObject[]): Promise<void> {
    const rotation = this.options.rotation;
    if (!rotation || !this.options.leadership.isLeader()) return;
    if (observation.kind === "refused" && !observation.first) return;
    const { namespace, name } = rotation.secret;
    const uid = secrets.find((s) => s.metadata.name === name && (s.metadata.namespace ?? "default") === namespace)?.metadata.uid;
    const ref = { namespace, name, ...(uid ? { uid } : {}) };
    const involved = { apiVersion: "v1", kind: "Secret" };
    const writer = this.options.writer;
    if (observation.kind === "refused") await writer.event(ref, "Warning", "InvalidWorkloadCA", observation.message, involved);
    else
      await writer.event(
        ref,
        "Normal",
        "WorkloadCARotating",
        "A new workload CA: sidecars trust its root alongside the old one, then get certificates it issues; the old root stays trusted until its certificates expire.",
        involved,
      );
  }

  /** After the snapshots of `sidecars` are set: the next renewal, and the staged CA's activation when its roots are everywhere. */
  published(sidecars: ReadonlySet<string>, observation: CaObservation | undefined, now: Date): void {
    this.scheduleRenewal(now);
    if (observation?.kind === "staged" || this.options.rotation?.pending()) this.checkActivation(sidecars);
  }

  /** A sidecar acknowledged something, or another replica's report changed: a staged CA may be able to issue now. */
  scheduleActivationCheck(sidecars: () => ReadonlySet<string>): void {
    if (this.activationCheck || !this.options.rotation?.pending()) return;
    this.activationCheck = true;
    this.options.queue.run(() => {
      this.activationCheck = false;
      this.checkActivation(sidecars());
    });
  }

  /** Remembers the roots of the trust bundle in `snapshot` (a sidecar's, with its SDS secrets) by the bundle's resource version. */
  rememberBundle(snapshot: Snapshot, secrets: readonly { name: string; resource: unknown }[]): void {
    const version = snapshot.resources.get(XdsType.Secret)?.get(NAMES.trustBundle)?.version;
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

  /** `nodeId` acknowledged its whole snapshot: what it trusts now. */
  acknowledged(nodeId: string): void {
    const bundle = this.options.cache.getSnapshot(nodeId)?.resources.get(XdsType.Secret)?.get(NAMES.trustBundle);
    this.ackedRoots.set(nodeId, bundle ? (this.bundleRoots.get(bundle.version) ?? []) : "any");
  }

  /** `nodeId` has no snapshot any more. */
  forget(nodeId: string): void {
    this.ackedRoots.delete(nodeId);
  }

  /**
   * The roots that every sidecar connected to this replica has acknowledged, among those this
   * replica serves (published in its report, so the other replicas activate a staged CA only once
   * this replica's sidecars can verify its certificates). Undefined without a rotation.
   */
  trustedRoots(): readonly string[] | undefined {
    const rotation = this.options.rotation;
    if (!rotation) return undefined;
    const cache = this.options.cache;
    let trusted = new Set(rotation.bundleRoots());
    for (const nodeId of cache.nodeIds()) {
      if (cache.openStreams(nodeId) === 0 || !cache.getSnapshot(nodeId)) continue;
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
    const { rotation, cache, reports, queue, clock } = this.options;
    if (!rotation?.pending()) return;
    const waiting = [...sidecars].filter((id) => cache.openStreams(id) > 0 && !cache.isInSync(id));
    const replicas = reports.replicasNotTrusting(rotation.stagedRoots(), clock().getTime());
    if (waiting.length > 0 || replicas.length > 0) {
      queue.debounce(ACTIVATION, this.options.activationTimeoutMs ?? 10_000, () => {
        if (!rotation.pending()) return;
        this.options.log.warn(
          { replicas: reports.replicasNotTrusting(rotation.stagedRoots(), clock().getTime()) },
          "sidecars or replicas did not acknowledge the new trust bundle in time; the new workload CA issues anyway",
        );
        this.activate();
      });
      return;
    }
    queue.cancel(ACTIVATION);
    this.activate();
  }

  private activate(): void {
    this.options.rotation?.activate(this.options.clock());
    this.options.reconcile();
  }

  /** A reconcile when the first workload certificate is due for renewal (it renews them and pushes SDS). */
  private scheduleRenewal(now: Date): void {
    const next = this.options.certificates?.nextRenewal();
    this.options.queue.wakeUp(RENEWAL, next ? Math.max(0, next.getTime() - now.getTime()) + 10 : undefined, this.options.reconcile);
  }
}
