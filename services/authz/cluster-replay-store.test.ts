import type { Cluster } from "ioredis";
import { describe, expect, it } from "vitest";
import { bucketMarkerKey, bucketOf, bucketTag, ClusterReplayStore, keySlot, REPLAY_BUCKETS } from "./cluster-replay-store.js";
import { markerValue } from "./replay-store.js";

const PREFIX = "p:";

/** The slot of a key as Redis Cluster computes it: the hash tag when there is one. */
function slotOfKey(key: string): number {
  const open = key.indexOf("{");
  const close = key.indexOf("}", open + 1);
  return keySlot(open >= 0 && close > open + 1 ? key.slice(open + 1, close) : key);
}

/**
 * Three shards as a Redis Cluster client sees them: a slot map (slot -> [primary]), one key space
 * per shard, pipelines that must stay on one slot, a shard that can be down, fail over to a
 * replica that missed the last writes, or restart empty.
 */
class FakeCluster {
  readonly slots: string[][] = [];
  readonly data = new Map<string, Map<string, string>>([
    ["a:1", new Map()],
    ["b:1", new Map()],
    ["c:1", new Map()],
  ]);
  readonly down = new Set<string>();
  status = "ready";

  constructor() {
    for (let slot = 0; slot < 16384; slot++) this.slots.push([slot < 5461 ? "a:1" : slot < 10922 ? "b:1" : "c:1"]);
  }

  on(): this {
    return this;
  }

  private shard(key: string): Map<string, string> {
    const owner = this.slots[slotOfKey(key)]?.[0] as string;
    if (this.down.has(owner)) throw new Error(`connect ECONNREFUSED ${owner}`);
    return this.data.get(owner) as Map<string, string>;
  }

  /** The primary of `slot` dies; a replica that missed the writes to `lost` takes over as `to`. */
  failover(slot: number, to: string, lost: string[] = []): void {
    const from = this.slots[slot]?.[0] as string;
    const copy = new Map(this.data.get(from));
    for (const key of lost) copy.delete(key);
    this.data.set(to, copy);
    for (const entry of this.slots) if (entry[0] === from) entry[0] = to;
  }

  set(key: string, value: string, nx?: string): Promise<"OK" | null> {
    // A throw inside the executor rejects the promise: a shard that is down refuses.
    return new Promise((resolve) => {
      const shard = this.shard(key);
      if (nx === "NX" && shard.has(key)) return resolve(null);
      shard.set(key, value);
      resolve("OK");
    });
  }

  get(key: string): Promise<string | null> {
    return new Promise((resolve) => resolve(this.shard(key).get(key) ?? null));
  }

  pipeline(): { set: (key: string, value: string, px: string, ttl: number, nx: string) => void; get: (key: string) => void; exec: () => Promise<[Error | null, unknown][]> } {
    const keys: string[] = [];
    const commands: (() => [Error | null, unknown])[] = [];
    return {
      set: (key, value): void => {
        keys.push(key);
        commands.push(() => {
          const shard = this.shard(key);
          if (shard.has(key)) return [null, null];
          shard.set(key, value);
          return [null, "OK"];
        });
      },
      get: (key): void => {
        keys.push(key);
        commands.push(() => [null, this.shard(key).get(key) ?? null]);
      },
      exec: (): Promise<[Error | null, unknown][]> => {
        // A pipeline goes to one node: the store must never mix slots in one.
        expect(new Set(keys.map(slotOfKey)).size).toBe(1);
        return new Promise((resolve) => {
          this.shard(keys[0] as string);
          resolve(commands.map((run) => run()));
        });
      },
    };
  }

  quit(): Promise<"OK"> {
    return Promise.resolve("OK");
  }
}

/** A cluster whose store has been in use for an hour (every bucket's marker written then). */
function usedCluster(now: number): FakeCluster {
  const cluster = new FakeCluster();
  for (let n = 0; n < REPLAY_BUCKETS; n++) void cluster.set(bucketMarkerKey(PREFIX, n), markerValue(now - 3_600_000));
  return cluster;
}

const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

describe("ClusterReplayStore", () => {
  it("maps keys to slots as Redis Cluster does (CRC16 XModem of the hash tag, mod 16384)", () => {
    // The reference value of the Redis Cluster specification.
    expect(keySlot("123456789")).toBe(12739);
    expect(keySlot("")).toBe(0);
    expect(slotOfKey(`{${bucketTag(PREFIX, 7)}}:jkt:abc`)).toBe(slotOfKey(bucketMarkerKey(PREFIX, 7)));
  });

  it("answers each jti once, in pipelines that never mix slots, and its buckets cover every shard", async () => {
    let now = 10_000_000;
    const cluster = usedCluster(now);
    const store = new ClusterReplayStore(cluster as unknown as Cluster, PREFIX, () => now);
    await settle();
    const keys = Array.from({ length: 300 }, (_, i) => `jkt:${i}`);
    expect(await Promise.all(keys.map((k) => store.firstUse(k, 60_000)))).toEqual(keys.map(() => true));
    expect(await Promise.all(keys.map((k) => store.firstUse(k, 60_000)))).toEqual(keys.map(() => false));
    expect(store.rememberedSince()).toBe(now - 3_600_000);
    const owners = new Set(Array.from({ length: REPLAY_BUCKETS }, (_, n) => cluster.slots[keySlot(bucketTag(PREFIX, n))]?.[0]));
    expect(owners).toEqual(new Set(["a:1", "b:1", "c:1"]));
    now += 1;
  });

  it("refuses (rejects) while the shard of a jti is down; other shards still answer", async () => {
    const now = 10_000_000;
    const cluster = usedCluster(now);
    const store = new ClusterReplayStore(cluster as unknown as Cluster, PREFIX, () => now);
    await settle();
    const onA = Array.from({ length: 50 }, (_, i) => `k${i}`).find((k) => cluster.slots[keySlot(bucketTag(PREFIX, bucketOf(k)))]?.[0] === "a:1") as string;
    const onB = Array.from({ length: 50 }, (_, i) => `k${i}`).find((k) => cluster.slots[keySlot(bucketTag(PREFIX, bucketOf(k)))]?.[0] === "b:1") as string;
    cluster.down.add("a:1");
    await expect(store.firstUse(onA, 60_000)).rejects.toThrow(/ECONNREFUSED/);
    expect(await store.firstUse(onB, 60_000)).toBe(true);
  });

  it("a jti whose first use a failover lost (the promoted replica missed the write) is not remembered, and rememberedSince moves past the failover", async () => {
    let now = 10_000_000;
    const cluster = usedCluster(now);
    const store = new ClusterReplayStore(cluster as unknown as Cluster, PREFIX, () => now);
    await settle();
    const key = "jkt:used-just-before-the-failover";
    const slot = keySlot(bucketTag(PREFIX, bucketOf(key)));
    expect(await store.firstUse(key, 60_000)).toBe(true);
    const usedAt = now;
    now += 3000;
    cluster.failover(slot, "a:2", [`{${bucketTag(PREFIX, bucketOf(key))}}:${key}`]);
    // The replay: the new primary says "first use"; the store must say it forgot.
    expect(await store.firstUse(key, 60_000)).toBe(true);
    expect(store.rememberedSince()).toBe(now);
    expect(store.rememberedSince()).toBeGreaterThan(usedAt);
  });

  it("moves rememberedSince once per failover, not once per bucket, and tells other replicas through the markers", async () => {
    let now = 10_000_000;
    const cluster = usedCluster(now);
    const store = new ClusterReplayStore(cluster as unknown as Cluster, PREFIX, () => now);
    await settle();
    const keys = Array.from({ length: 600 }, (_, i) => `k${i}`);
    await Promise.all(keys.map((k) => store.firstUse(k, 60_000)));
    const slotOf = (k: string): number => keySlot(bucketTag(PREFIX, bucketOf(k)));
    const onA = keys.filter((k) => cluster.slots[slotOf(k)]?.[0] === "a:1");
    now += 1000;
    const failedOverAt = now;
    cluster.failover(slotOf(onA[0] as string), "a:2");
    expect(await store.firstUse("fresh-0", 60_000)).toBeTypeOf("boolean");
    await store.firstUse(onA[0] as string, 60_000);
    expect(store.rememberedSince()).toBe(failedOverAt);
    now += 5000;
    // Later checks on other buckets of the same shard: no new move.
    for (const k of onA.slice(1)) await store.firstUse(k, 60_000);
    expect(store.rememberedSince()).toBe(failedOverAt);
    // Another replica started after the failover reads the rewritten markers.
    const late = new ClusterReplayStore(cluster as unknown as Cluster, PREFIX, () => now);
    await settle();
    await settle();
    expect(late.rememberedSince()).toBe(failedOverAt);
  });

  it("a shard restarted empty (markers gone) moves rememberedSince to when it is noticed", async () => {
    let now = 10_000_000;
    const cluster = usedCluster(now);
    const store = new ClusterReplayStore(cluster as unknown as Cluster, PREFIX, () => now);
    await settle();
    const key = "jkt:x";
    expect(await store.firstUse(key, 60_000)).toBe(true);
    const owner = cluster.slots[keySlot(bucketTag(PREFIX, bucketOf(key)))]?.[0] as string;
    cluster.data.get(owner)?.clear();
    now += 2000;
    expect(await store.firstUse(key, 60_000)).toBe(true);
    expect(store.rememberedSince()).toBe(now);
  });
});
