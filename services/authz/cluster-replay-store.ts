import { createHash } from "node:crypto";
import type { Cluster } from "ioredis";
import { markerValue, type ReplayStore } from "./replay-store.js";

/** jtis are spread over this many hash tags; each tag is one slot, so on one shard, with its own marker. */
export const REPLAY_BUCKETS = 256;

/** CRC16-CCITT (XModem), the function Redis Cluster maps keys to slots with (slot = crc16(tag) mod 16384). */
export function keySlot(tag: string): number {
  let crc = 0;
  for (const byte of Buffer.from(tag, "utf8")) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}

/** The hash tag of bucket `n` (what is between the braces of its keys). */
export function bucketTag(prefix: string, n: number): string {
  return `${prefix}b${n}`;
}

/** The marker of bucket `n`: in the bucket's slot, so on the shard that holds the bucket's jtis. */
export function bucketMarkerKey(prefix: string, n: number): string {
  return `{${bucketTag(prefix, n)}}~store`;
}

/** The bucket of a one-time value's key (the first byte of its SHA-256). */
export function bucketOf(key: string): number {
  return (createHash("sha256").update(key).digest()[0] as number) % REPLAY_BUCKETS;
}

interface PendingUse {
  key: string;
  ttlMs: number;
  resolve: (first: boolean) => void;
  reject: (error: unknown) => void;
}

interface BucketState {
  slot: number;
  /** The marker last seen; undefined before the first answer. */
  marker?: string;
  /** The primary (host:port) that answered last. */
  owner?: string;
}

function markerTime(value: string, nowMs: number): number {
  const ms = Number.parseInt(value.split(":")[0] ?? "", 10);
  return Number.isFinite(ms) ? ms : nowMs;
}

/**
 * The DPoP replay store on a Redis Cluster. `SET key 1 NX PX ttl` stays the atomic first-use
 * test, but a pipeline must stay on one shard, and every shard can forget on its own: jtis are
 * spread over REPLAY_BUCKETS hash tags, and each bucket's checks of one event-loop turn go in one
 * pipeline with a GET of the bucket's own marker (same slot, same shard).
 *
 * A shard forgets in two ways, and either moves rememberedSince to the moment it is noticed (the
 * proofs issued before are refused; clients retry with a new proof):
 * - it restarted empty: the bucket's marker is missing (written again, SET NX);
 * - its primary changed (a failover to a replica, which may have missed the last writes: Redis
 *   replicates asynchronously; or a resharding): the primary that serves the bucket's slot is not
 *   the one that answered before. The marker is then rewritten with the current time, so replicas
 *   of authz that were not running, or had not reached that bucket, see a newer marker too.
 * While a shard is down or its slots move, its checks fail and are refused (replay_store_unavailable).
 */
export class ClusterReplayStore implements ReplayStore {
  private pending: Map<number, PendingUse[]> | undefined;
  private readonly buckets: BucketState[] = [];
  private since = Number.POSITIVE_INFINITY;

  constructor(
    private readonly cluster: Cluster,
    private readonly prefix = "bulwark:dpop:",
    private readonly now: () => number = Date.now,
  ) {
    for (let n = 0; n < REPLAY_BUCKETS; n++) this.buckets.push({ slot: keySlot(bucketTag(prefix, n)) });
    cluster.on("ready", () => void this.readAllMarkers());
    if (cluster.status === "ready") void this.readAllMarkers();
  }

  /**
   * At each connection, every bucket's marker (written where missing): a new store moves
   * rememberedSince once, not once per bucket as proofs happen to reach each of them.
   */
  private async readAllMarkers(): Promise<void> {
    await Promise.all(
      this.buckets.map(async (_state, n) => {
        const before = this.ownerOf(n);
        try {
          const value = await this.cluster.get(bucketMarkerKey(this.prefix, n));
          this.observe(n, value, { before, after: this.ownerOf(n) });
        } catch {
          // The bucket's next check reads its marker again.
        }
      }),
    );
  }

  rememberedSince(): number {
    return this.since;
  }

  firstUse(key: string, ttlMs: number): Promise<boolean> {
    return new Promise((resolve, reject) => {
      if (!this.pending) {
        this.pending = new Map();
        setImmediate(() => this.flush());
      }
      const n = bucketOf(key);
      const use = { key: `{${bucketTag(this.prefix, n)}}:${key}`, ttlMs: Math.max(1, Math.ceil(ttlMs)), resolve, reject };
      const list = this.pending.get(n);
      if (list) list.push(use);
      else this.pending.set(n, [use]);
    });
  }

  private ownerOf(n: number): string | undefined {
    return this.cluster.slots[(this.buckets[n] as BucketState).slot]?.[0];
  }

  private flush(): void {
    const batches = this.pending ?? new Map<number, PendingUse[]>();
    this.pending = undefined;
    for (const [n, batch] of batches) this.flushBucket(n, batch);
  }

  private flushBucket(n: number, batch: PendingUse[]): void {
    const before = this.ownerOf(n);
    const pipeline = this.cluster.pipeline();
    for (const use of batch) pipeline.set(use.key, "1", "PX", use.ttlMs, "NX");
    pipeline.get(bucketMarkerKey(this.prefix, n));
    const fail = (error: unknown): void => {
      for (const use of batch) use.reject(error);
    };
    pipeline.exec().then((results) => {
      const [markerError, marker] = results?.[batch.length] ?? [new Error("no reply from Redis"), null];
      if (markerError) return fail(markerError);
      // Read after the reply too: a MOVED redirect updates the slot map before the pipeline is resent.
      this.observe(n, typeof marker === "string" ? marker : null, { before, after: this.ownerOf(n) });
      batch.forEach((use, i) => {
        const [error, result] = results?.[i] ?? [new Error("no reply from Redis"), null];
        if (error) use.reject(error);
        else use.resolve(result === "OK");
      });
    }, fail);
  }

  /** What bucket `n`'s marker and primary (when the pipeline was sent, and when it answered) say about its memory. */
  private observe(n: number, value: string | null, owner: { before: string | undefined; after: string | undefined }): void {
    const state = this.buckets[n] as BucketState;
    const now = this.now();
    const changedHands =
      (state.owner !== undefined && (owner.before !== state.owner || owner.after !== state.owner)) || (owner.before !== undefined && owner.after !== owner.before);
    if (value === null) {
      this.forgotSince(now);
      this.writeMarker(n, now, "NX");
    } else if (changedHands) {
      this.forgotSince(now);
      this.writeMarker(n, now, "overwrite");
      this.followMovedBuckets(now);
    } else if (value !== state.marker) {
      const time = markerTime(value, now);
      this.since = Number.isFinite(this.since) ? Math.max(this.since, time) : time;
      state.marker = value;
    }
    state.owner = owner.after;
  }

  private forgotSince(now: number): void {
    this.since = Math.max(Number.isFinite(this.since) ? this.since : 0, now);
  }

  /** A new marker for bucket `n`: SET NX when missing (another replica may write first; the next read adopts the later time), overwritten when its shard changed hands. */
  private writeMarker(n: number, now: number, how: "NX" | "overwrite"): void {
    const fresh = markerValue(now);
    (this.buckets[n] as BucketState).marker = fresh;
    const key = bucketMarkerKey(this.prefix, n);
    (how === "NX" ? this.cluster.set(key, fresh, "NX") : this.cluster.set(key, fresh)).catch(() => undefined);
  }

  /**
   * A failover moves every slot of a shard at once: the other buckets whose primary changed in the
   * slot map are taken as forgotten now too (rememberedSince has just moved past the failover),
   * so rememberedSince moves once per failover, not once per bucket as each is reached.
   */
  private followMovedBuckets(now: number): void {
    this.buckets.forEach((state, m) => {
      const owner = this.cluster.slots[state.slot]?.[0];
      if (state.owner === undefined || owner === undefined || owner === state.owner) return;
      state.owner = owner;
      this.writeMarker(m, now, "overwrite");
    });
  }

  async close(): Promise<void> {
    await this.cluster.quit();
  }
}
