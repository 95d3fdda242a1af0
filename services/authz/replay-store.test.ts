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

  it("remembers from the moment it was made, or from the moment it is told", () => {
    expect(new MemoryReplayStore(() => 42).rememberedSince()).toBe(42);
    expect(new MemoryReplayStore(() => 42, { rememberedSince: 7 }).rememberedSince()).toBe(7);
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

/** SET NX (PX), GET and pipelines as Redis answers them; counts round trips; can fail, and be emptied. */
class FakeRedis {
  readonly values = new Map<string, string>();
  roundTrips = 0;
  failing: "none" | "all" | "second" = "none";
  status = "ready";
  private readonly readyListeners: (() => void)[] = [];

  on(event: string, listener: () => void): this {
    if (event === "ready") this.readyListeners.push(listener);
    return this;
  }

  /** Redis restarted without persistence: every key gone, clients reconnect. */
  restartEmpty(): void {
    this.values.clear();
    for (const listener of this.readyListeners) listener();
  }

  private setNx(key: string, value: string): "OK" | null {
    if (this.values.has(key)) return null;
    this.values.set(key, value);
    return "OK";
  }

  set(key: string, value: string, ...options: (string | number)[]): Promise<"OK" | null> {
    expect(options.includes("NX")).toBe(true);
    this.roundTrips += 1;
    return this.failing === "all" ? Promise.reject(new Error("ECONNREFUSED")) : Promise.resolve(this.setNx(key, value));
  }

  get(key: string): Promise<string | null> {
    return this.failing === "all" ? Promise.reject(new Error("ECONNREFUSED")) : Promise.resolve(this.values.get(key) ?? null);
  }

  pipeline(): { set: (key: string, value: string, px: string, ttl: number, nx: string) => void; get: (key: string) => void; exec: () => Promise<[Error | null, unknown][]> } {
    const commands: (() => [Error | null, unknown])[] = [];
    return {
      set: (key, value, _px, ttl, nx): void => {
        expect([nx, ttl > 0]).toEqual(["NX", true]);
        const i = commands.length;
        commands.push(() => (this.failing === "second" && i === 1 ? [new Error("OOM"), null] : [null, this.setNx(key, value)]));
      },
      get: (key): void => {
        commands.push(() => [null, this.values.get(key) ?? null]);
      },
      exec: (): Promise<[Error | null, unknown][]> => {
        this.roundTrips += 1;
        if (this.failing === "all") return Promise.reject(new Error("ECONNREFUSED"));
        return Promise.resolve(commands.map((run) => run()));
      },
    };
  }

  quit(): Promise<"OK"> {
    return Promise.resolve("OK");
  }
}

function store(redis: FakeRedis, now: () => number = Date.now): RedisReplayStore {
  return new RedisReplayStore(redis as unknown as Redis, "p:", now);
}

/** Lets the marker reads and writes started by the store's constructor finish. */
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

describe("RedisReplayStore", () => {
  it("sends the uses of one event-loop turn in one pipeline, each SET NX answering for its key", async () => {
    const redis = new FakeRedis();
    const answers = await Promise.all([store(redis).firstUse("a", 60_000), store(redis).firstUse("b", 60_000)]);
    expect(answers).toEqual([true, true]);
    const shared = store(redis);
    const before = redis.roundTrips;
    expect(await Promise.all([shared.firstUse("a", 60_000), shared.firstUse("c", 60_000), shared.firstUse("c", 60_000), shared.firstUse("d", 1)])).toEqual([
      false,
      true,
      false,
      true,
    ]);
    expect([...redis.values.keys()].filter((k) => !k.includes("~")).sort()).toEqual(["p:a", "p:b", "p:c", "p:d"]);
    expect(redis.roundTrips - before).toBe(1);
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

  it("remembers from the store's first connection on, and from the moment it noticed the store emptied (restart or flush)", async () => {
    let now = 1_000_000;
    const redis = new FakeRedis();
    const first = store(redis, () => now);
    await settle();
    expect(first.rememberedSince()).toBe(1_000_000);
    now += 60_000;
    // A replica started later trusts the marker: the store has remembered since the first connection.
    const later = store(redis, () => now);
    expect(await later.firstUse("a", 1000)).toBe(true);
    expect(later.rememberedSince()).toBe(1_000_000);

    now += 1000;
    redis.restartEmpty();
    await settle();
    expect(first.rememberedSince()).toBe(1_061_000);
    // Flushed with no reconnect: the pipeline's marker read notices.
    now += 1000;
    redis.values.clear();
    expect(await first.firstUse("b", 1000)).toBe(true);
    expect(first.rememberedSince()).toBe(1_062_000);
    // The replica that did not see it empty adopts the marker written since.
    now += 1000;
    expect(await later.firstUse("c", 1000)).toBe(true);
    expect(later.rememberedSince()).toBe(1_062_000);
  });

  it("knows nothing before Redis has answered", () => {
    const redis = new FakeRedis();
    redis.status = "connecting";
    expect(store(redis).rememberedSince()).toBe(Number.POSITIVE_INFINITY);
  });
});
