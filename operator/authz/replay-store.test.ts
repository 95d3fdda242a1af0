import type { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { MemoryReplayStore, RedisReplayStore } from "./replay-store.js";

describe("MemoryReplayStore", () => {
  it("answers true once per key within its lifetime, and again after it", async () => {
    let now = 1_000_000;
    const store = new MemoryReplayStore(() => now);
    expect(await store.firstUse("a", 1000)).toBe(true);
    expect(await store.firstUse("a", 1000)).toBe(false);
    expect(await store.firstUse("b", 1000)).toBe(true);
    now += 1001;
    expect(await store.firstUse("a", 1000)).toBe(true);
    expect(await store.firstUse("a", 1000)).toBe(false);
  });

  it("lets expired entries go as new ones come, so its size follows the rate of uses", async () => {
    let now = 0;
    const store = new MemoryReplayStore(() => now);
    for (let i = 0; i < 10_000; i++) {
      now += 1;
      expect(await store.firstUse(`k${i}`, 100)).toBe(true);
    }
    expect(store.size).toBeLessThanOrEqual(101);
    expect(await store.firstUse("k9999", 100)).toBe(false);
    expect(await store.firstUse("k9899", 100)).toBe(true);
  });
});

/** SET NX PX as Redis answers it, with a pipeline; counts round trips; can fail. */
class FakeRedis {
  readonly values = new Map<string, string>();
  roundTrips = 0;
  failing: "none" | "all" | "second" = "none";

  private setNx(key: string): "OK" | null {
    if (this.values.has(key)) return null;
    this.values.set(key, "1");
    return "OK";
  }

  set(key: string, _value: string, _px: string, ttl: number, nx: string): Promise<"OK" | null> {
    expect([nx, ttl > 0]).toEqual(["NX", true]);
    this.roundTrips += 1;
    return this.failing === "all" ? Promise.reject(new Error("ECONNREFUSED")) : Promise.resolve(this.setNx(key));
  }

  pipeline(): { set: (key: string, value: string, px: string, ttl: number, nx: string) => void; exec: () => Promise<[Error | null, unknown][]> } {
    const keys: string[] = [];
    return {
      set: (key, _value, _px, ttl, nx): void => {
        expect([nx, ttl > 0]).toEqual(["NX", true]);
        keys.push(key);
      },
      exec: (): Promise<[Error | null, unknown][]> => {
        this.roundTrips += 1;
        if (this.failing === "all") return Promise.reject(new Error("ECONNREFUSED"));
        return Promise.resolve(keys.map((k, i): [Error | null, unknown] => (this.failing === "second" && i === 1 ? [new Error("OOM"), null] : [null, this.setNx(k)])));
      },
    };
  }

  quit(): Promise<"OK"> {
    return Promise.resolve("OK");
  }
}

function store(redis: FakeRedis): RedisReplayStore {
  return new RedisReplayStore(redis as unknown as Redis, "p:");
}

describe("RedisReplayStore", () => {
  it("sends the uses of one event-loop turn in one pipeline, each SET NX answering for its key", async () => {
    const redis = new FakeRedis();
    const answers = await Promise.all([store(redis).firstUse("a", 60_000), store(redis).firstUse("b", 60_000)]);
    expect(answers).toEqual([true, true]);
    const shared = store(redis);
    expect(await Promise.all([shared.firstUse("a", 60_000), shared.firstUse("c", 60_000), shared.firstUse("c", 60_000), shared.firstUse("d", 1)])).toEqual([false, true, false, true]);
    expect([...redis.values.keys()].sort()).toEqual(["p:a", "p:b", "p:c", "p:d"]);
    expect(redis.roundTrips).toBe(3);
    expect(await shared.firstUse("d", 1)).toBe(false);
  });

  it("rejects when Redis cannot answer, for one use, for a whole pipeline, or for one command of it", async () => {
    const redis = new FakeRedis();
    const shared = store(redis);
    redis.failing = "all";
    await expect(shared.firstUse("x", 1000)).rejects.toThrow("ECONNREFUSED");
    const both = [shared.firstUse("x", 1000), shared.firstUse("y", 1000)];
    await expect(both[0]).rejects.toThrow("ECONNREFUSED");
    await expect(both[1]).rejects.toThrow("ECONNREFUSED");
    redis.failing = "second";
    const mixed = [shared.firstUse("x", 1000), shared.firstUse("y", 1000)];
    expect(await mixed[0]).toBe(true);
    await expect(mixed[1]).rejects.toThrow("OOM");
  });
});
