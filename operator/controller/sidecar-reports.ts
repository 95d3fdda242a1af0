import { CoordinationV1Api, ListWatch, V1MicroTime, Watch, type KubeConfig, type V1Lease } from "@kubernetes/client-node";
import { gunzipSync, gzipSync } from "node:zlib";
import type { Logger } from "pino";
import { nodeIdProblem, plainSidecarText } from "../../envoy/xds/sidecar-text.js";
import { errorMessage } from "../../common/errors.js";
import { compareStrings } from "../../common/order.js";

/** What one replica knows about one sidecar. */
export interface SidecarReport {
  /** The policy (`<ns>/<name>`) whose configuration the sidecar runs, ACKed in full. */
  policy?: string;
  generation?: number;
  /** Envoy's error when it rejected its current configuration. */
  nack?: string;
  /** The sidecar has an open ADS stream to the replica. */
  connected: boolean;
}

interface ReplicaRecord {
  identity: string;
  /** When the replica wrote its record (ms since the epoch). */
  at: number;
  sidecars: Map<string, SidecarReport>;
  /** Roots every sidecar connected to the replica has acknowledged in its trust bundle; undefined when the replica says nothing of them. */
  trustedRoots: Set<string> | undefined;
}

export interface SidecarReportsOptions {
  /** Namespace of the leader-election Lease; the records live next to it. */
  namespace: string;
  /** Name of the leader-election Lease; records are `<name>-sidecars-<identity>`. */
  leaseName: string;
  identity: string;
  /** Rewrite the own record at least this often (it also shows the replica is alive). */
  renewEverySeconds?: number;
  /** A record not renewed for this long belongs to a replica that is gone. */
  staleAfterSeconds?: number;
  /** Debounce of writes after changes. */
  debounceMs?: number;
  /** The time records are stamped with and judged fresh by (default: the system clock). */
  clock?: () => Date;
}

export const REPORT_LABEL = "bulwark.dev/sidecar-reports";
const DATA_ANNOTATION = "bulwark.dev/sidecars";
/** Fingerprints (comma-separated) of the workload-CA roots every sidecar connected to the replica has acknowledged. */
export const TRUSTED_ROOTS_ANNOTATION = "bulwark.dev/trusted-roots";
const FINGERPRINT = /^[0-9a-f]{32}$/;

type Wire = Record<string, [string | null, number | null, string | null, 0 | 1]>;

/**
 * The most a record's annotation may hold (base64 of gzip). The API server refuses an object
 * whose annotations exceed 256 KiB together, and a refused write would freeze what the other
 * replicas know: the record stays well under it whatever the sidecars send.
 */
export const MAX_RECORD_BYTES = 192 * 1024;
/** Longest NACK text kept in a record. */
const MAX_NACK_IN_RECORD = 512;

/**
 * Which reports to keep when not all fit: connected sidecars running a policy first, then the
 * other connected ones, then those that left; by node id within each. A report left out reads as
 * "not known" to the other replicas, which count that sidecar as not programmed yet (Pending),
 * never as programmed.
 */
function rank(r: SidecarReport): number {
  return (r.connected ? 0 : 2) + (r.policy !== undefined ? 0 : 1);
}

function wireOf(entries: readonly [string, SidecarReport][]): string {
  const wire: Wire = {};
  for (const [id, r] of [...entries].sort(([a], [b]) => compareStrings(a, b))) {
    wire[id] = [r.policy ?? null, r.generation ?? null, r.nack !== undefined ? plainSidecarText(r.nack, MAX_NACK_IN_RECORD) : null, r.connected ? 1 : 0];
  }
  return gzipSync(JSON.stringify(wire)).toString("base64");
}

/**
 * The annotation text of `sidecars`, at most `maxBytes` long: reports of malformed node ids are
 * dropped, texts are bounded, and when everything does not fit the best-ranked reports that do
 * are kept (found by bisection; `omitted` says how many were left out).
 */
export function encodeReports(sidecars: ReadonlyMap<string, SidecarReport>, maxBytes = MAX_RECORD_BYTES): { data: string; omitted: number } {
  const valid = [...sidecars].filter(([id]) => nodeIdProblem(id) === undefined);
  const ranked = valid.sort(([a, ra], [b, rb]) => rank(ra) - rank(rb) || compareStrings(a, b));
  const all = wireOf(ranked);
  if (all.length <= maxBytes) return { data: all, omitted: sidecars.size - ranked.length };
  let fits = 0;
  let data = wireOf([]);
  let low = 0;
  let high = ranked.length - 1;
  while (low <= high) {
    const mid = Math.floor((low + high) / 2);
    const candidate = wireOf(ranked.slice(0, mid));
    if (candidate.length <= maxBytes) {
      fits = mid;
      data = candidate;
      low = mid + 1;
    } else {
      high = mid - 1;
    }
  }
  return { data, omitted: sidecars.size - fits };
}

export function decodeReports(text: string | undefined): Map<string, SidecarReport> {
  const out = new Map<string, SidecarReport>();
  if (!text) return out;
  try {
    const wire = JSON.parse(gunzipSync(Buffer.from(text, "base64"), { maxOutputLength: 64 * 1024 * 1024 }).toString("utf8")) as Wire;
    for (const [id, [policy, generation, nack, connected]] of Object.entries(wire)) {
      out.set(id, { ...(policy !== null ? { policy } : {}), ...(generation !== null ? { generation } : {}), ...(nack !== null ? { nack } : {}), connected: connected === 1 });
    }
  } catch {
    // An unreadable record tells nothing.
  }
  return out;
}

/** A DNS-subdomain-safe object name for a replica's record. */
export function recordName(leaseName: string, identity: string): string {
  const safe = identity
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, "-")
    .replace(/^[.-]+|[.-]+$/g, "");
  return `${leaseName}-sidecars-${safe || "replica"}`.slice(0, 253).replace(/[.-]+$/, "");
}

function code(error: unknown): number | undefined {
  return typeof error === "object" && error !== null && "code" in error && typeof error.code === "number" ? error.code : undefined;
}

/**
 * What each replica's sidecars run, shared between replicas through one Lease per replica.
 *
 * Every replica serves xDS, but only the leader writes status, and a sidecar is connected to one
 * replica: without these records the leader could only count the sidecars connected to itself.
 * The records also remember across restarts: a restarted replica finds what its sidecars ran
 * before it died, so it neither rewrites status nor reports Pending while they reconnect.
 */
export class SidecarReports {
  private readonly api: CoordinationV1Api;
  private readonly records = new Map<string, ReplicaRecord>();
  private informer: ListWatch<V1Lease> | undefined;
  private readonly listeners = new Set<() => void>();
  private ownName: string;
  private own: Map<string, SidecarReport> | undefined;
  private written: string | undefined;
  private writing: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private collect: (() => Map<string, SidecarReport>) | undefined;
  private collectTrust: (() => readonly string[]) | undefined;
  private stopped = false;
  /** What the previous process of this identity reported, for sidecars not heard from since. */
  private inherited = new Map<string, SidecarReport>();
  /** Decoded records by their annotation text: a record is decoded again only when it changed. */
  private decoded = new Map<string, { data: string | undefined; sidecars: Map<string, SidecarReport> }>();
  /** Once `inherited` is taken, the own record's reports are read no more (every reader skips them), so they are not decoded. */
  private ownRecordRead = false;

  constructor(
    private readonly kc: KubeConfig,
    private readonly options: SidecarReportsOptions,
    private readonly log: Logger,
  ) {
    this.api = kc.makeApiClient(CoordinationV1Api);
    this.ownName = recordName(options.leaseName, options.identity);
  }

  private now(): number {
    return this.options.clock?.().getTime() ?? Date.now();
  }

  /** Called whenever another replica's record changes. */
  onChange(listener: () => void): void {
    this.listeners.add(listener);
  }

  /**
   * Lists the records (the own one included: what this identity reported before a restart) and
   * watches them. `trustedRoots`, when given, says which workload-CA roots every sidecar of this
   * replica has acknowledged; it is published for the other replicas' CA activation.
   */
  async start(collect: () => Map<string, SidecarReport>, trustedRoots?: () => readonly string[]): Promise<void> {
    this.collect = collect;
    this.collectTrust = trustedRoots;
    const { namespace, leaseName } = this.options;
    const selector = `${REPORT_LABEL}=${leaseName}`;
    const informer = new ListWatch<V1Lease>(
      `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`,
      new Watch(this.kc),
      () => this.api.listNamespacedLease({ namespace, labelSelector: selector }),
      false,
      selector,
    );
    const refresh = (notify: boolean): void => {
      this.records.clear();
      const decoded = new Map<string, { data: string | undefined; sidecars: Map<string, SidecarReport> }>();
      for (const lease of informer.list()) {
        const identity = lease.spec?.holderIdentity ?? lease.metadata?.name ?? "";
        const name = lease.metadata?.name ?? identity;
        const renewed = lease.spec?.renewTime ? new Date(lease.spec.renewTime).getTime() : 0;
        const trust = lease.metadata?.annotations?.[TRUSTED_ROOTS_ANNOTATION];
        const data = name === this.ownName && this.ownRecordRead ? undefined : lease.metadata?.annotations?.[DATA_ANNOTATION];
        const known = this.decoded.get(name);
        const sidecars = known && known.data === data ? known.sidecars : decodeReports(data);
        decoded.set(name, { data, sidecars });
        this.records.set(name, {
          identity,
          at: renewed,
          sidecars,
          trustedRoots: trust === undefined ? undefined : new Set(trust.split(",").filter((f) => FINGERPRINT.test(f))),
        });
      }
      this.decoded = decoded;
      if (notify) for (const l of this.listeners) l();
    };
    // The own record changing tells this replica nothing new.
    for (const verb of ["add", "update", "delete"] as const) informer.on(verb, (lease) => refresh(lease.metadata?.name !== this.ownName));
    informer.on("connect", () => refresh(true));
    informer.on("error", (error: unknown) => {
      if (this.stopped) return;
      this.log.warn({ err: errorMessage(error) }, "sidecar report watch failed; restarting it");
      setTimeout(() => {
        if (!this.stopped) informer.start().catch((e: unknown) => this.log.warn({ err: String(e) }, "sidecar report watch restart failed"));
      }, 1000).unref();
    });
    this.informer = informer;
    try {
      await informer.start();
      refresh(false);
    } catch (error) {
      this.log.warn({ err: errorMessage(error) }, "could not list sidecar reports; status counts only this replica's sidecars until the watch recovers");
    }
    this.inherited = new Map(this.records.get(this.ownName)?.sidecars ?? []);
    this.ownRecordRead = true;
    const renew = (): void => {
      this.written = undefined; // rewrite even when unchanged: the write time shows the replica lives
      this.schedule();
      this.renewTimer = setTimeout(renew, (this.options.renewEverySeconds ?? 10) * 1000);
      this.renewTimer.unref();
    };
    this.renewTimer = setTimeout(renew, (this.options.renewEverySeconds ?? 10) * 1000);
    this.renewTimer.unref();
  }

  /** What the previous process of this identity knew about `nodeId`, until the sidecar is heard from again. */
  inheritedReport(nodeId: string): SidecarReport | undefined {
    return this.inherited.get(nodeId);
  }

  /** The sidecar was heard from (or is gone): what the previous process knew no longer counts. */
  forget(nodeId: string): void {
    this.inherited.delete(nodeId);
  }

  /** Keep only inherited reports of these sidecars (the others no longer exist). */
  retain(nodeIds: ReadonlySet<string>): void {
    for (const id of this.inherited.keys()) if (!nodeIds.has(id)) this.inherited.delete(id);
  }

  /**
   * The best report about `nodeId` from the other replicas: one to which the sidecar is
   * connected now (a fresh record), else the newest.
   */
  fromOthers(nodeId: string, now = this.now()): SidecarReport | undefined {
    const fresh = now - (this.options.staleAfterSeconds ?? 30) * 1000;
    let best: { report: SidecarReport; at: number; live: boolean } | undefined;
    for (const [name, record] of this.records) {
      if (name === this.ownName) continue;
      const report = record.sidecars.get(nodeId);
      if (!report) continue;
      const live = report.connected && record.at >= fresh;
      if (!best || (live && !best.live) || (live === best.live && record.at > best.at)) best = { report, at: record.at, live };
    }
    return best ? { ...best.report, connected: best.live } : undefined;
  }

  /**
   * The other replicas that are alive (their record renewed within the staleness bound) and have
   * not said that all their sidecars trust every one of `roots`. A replica whose record has
   * expired is gone (its sidecars reconnect elsewhere) and holds nothing back.
   */
  replicasNotTrusting(roots: readonly string[], now = this.now()): string[] {
    const fresh = now - (this.options.staleAfterSeconds ?? 30) * 1000;
    const out: string[] = [];
    for (const [name, record] of this.records) {
      if (name === this.ownName || record.at < fresh) continue;
      if (!roots.every((root) => record.trustedRoots?.has(root))) out.push(record.identity);
    }
    return out.sort();
  }

  /** Writes the own record soon (debounced), when it changed. */
  schedule(): void {
    if (this.stopped || this.timer || !this.collect) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.writing = this.writing.then(() => this.write()).catch((error: unknown) => this.log.warn({ err: errorMessage(error) }, "could not write the sidecar report"));
    }, this.options.debounceMs ?? 50);
  }

  private async write(final = false): Promise<void> {
    if (!this.collect) return;
    const sidecars = this.collect();
    if (final) for (const [id, report] of sidecars) sidecars.set(id, { ...report, connected: false });
    for (const [id, report] of this.inherited) if (!sidecars.has(id)) sidecars.set(id, { ...report, connected: false });
    const { data, omitted } = encodeReports(sidecars);
    const trust = this.collectTrust?.().join(",");
    const signature = `${data}\n${trust ?? ""}`;
    if (signature === this.written) return;
    if (omitted > 0)
      this.log.warn(
        { omitted, kept: sidecars.size - omitted, maxBytes: MAX_RECORD_BYTES },
        "the sidecar report is full: reports left out read as not programmed to the other replicas",
      );
    const { namespace, leaseName, identity } = this.options;
    const now = new V1MicroTime(this.now());
    const annotations: Record<string, string> = { [DATA_ANNOTATION]: data, ...(trust !== undefined ? { [TRUSTED_ROOTS_ANNOTATION]: trust } : {}) };
    const metadata = { name: this.ownName, namespace, labels: { [REPORT_LABEL]: leaseName }, annotations };
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        let current: V1Lease | undefined;
        try {
          current = await this.api.readNamespacedLease({ name: this.ownName, namespace });
        } catch (error) {
          if (code(error) !== 404) throw error;
        }
        const spec = { holderIdentity: identity, renewTime: now, leaseDurationSeconds: this.options.staleAfterSeconds ?? 30 };
        if (current) {
          await this.api.replaceNamespacedLease({
            name: this.ownName,
            namespace,
            body: {
              metadata: {
                ...current.metadata,
                labels: { ...current.metadata?.labels, ...metadata.labels },
                annotations: { ...current.metadata?.annotations, ...metadata.annotations },
              },
              spec: { ...current.spec, ...spec },
            },
          });
        } else {
          await this.api.createNamespacedLease({ namespace, body: { metadata, spec } });
        }
        this.written = signature;
        return;
      } catch (error) {
        if (attempt === 3 || (code(error) !== 409 && code(error) !== 404)) throw error;
      }
    }
  }

  /** Deletes records of replicas gone for longer than `olderThanSeconds` (the leader calls this now and then). */
  async collectGarbage(olderThanSeconds: number): Promise<void> {
    const cutoff = this.now() - olderThanSeconds * 1000;
    for (const [name, record] of this.records) {
      if (name === this.ownName || record.at >= cutoff) continue;
      await this.api.deleteNamespacedLease({ name, namespace: this.options.namespace }).catch((error: unknown) => {
        if (code(error) !== 404) this.log.warn({ record: name, err: errorMessage(error) }, "could not delete a stale sidecar report");
      });
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of [this.timer, this.renewTimer]) if (t) clearTimeout(t);
    await this.writing;
    // A last write, so a restart (or the next leader) knows what the sidecars ran; they will not stay connected here.
    await this.write(true).catch(() => undefined);
    await this.informer?.stop();
  }
}
