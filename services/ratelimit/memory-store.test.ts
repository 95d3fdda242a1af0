import { describe, expect, it } from "vitest";
import { MemoryStore } from "./memory-store.js";

describe("MemoryStore", () => {
  const T0 = 1_800_000_000_000;

  it("spends only what fits, checks without spending at cost 0, and adds unconditionally", async () => {
    const store = new MemoryStore();
    const req = { key: "k", windowMs: 1000, limit: 2 };
    expect(await store.take({ ...req, nowMs: T0, cost: 2 })).toEqual({ previous: 0, current: 2, spent: true });
    expect(await store.take({ ...req, nowMs: T0, cost: 1 })).toEqual({ previous: 0, current: 2, spent: false });
    expect(await store.take({ ...req, nowMs: T0, cost: 0 })).toEqual({ previous: 0, current: 2, spent: false });
    await store.add({ key: "k", windowMs: 1000, nowMs: T0, cost: 1 });
    expect((await store.take({ ...req, nowMs: T0 + 1000, cost: 0 })).previous).toBe(3);
  });

  it("forgets counters two windows later", async () => {
    const store = new MemoryStore();
    await store.add({ key: "k", windowMs: 1000, nowMs: T0, cost: 5 });
    expect(store.size).toBe(1);
    expect(await store.take({ key: "k", windowMs: 1000, nowMs: T0 + 2000, cost: 0, limit: 1 })).toEqual({ previous: 0, current: 0, spent: false });
    await store.take({ key: "other", windowMs: 1000, nowMs: T0 + 3000, cost: 1, limit: 1 });
    expect(store.size).toBe(1);
  });

  it("stays within maxCounters: expired counters go first, then the least-spent, least recently written first", async () => {
    const evictions: number[] = [];
    const store = new MemoryStore({ maxCounters: 10, onEvict: (n) => evictions.push(n) });
    const W = 60_000;
    await store.add({ key: "old", windowMs: 200, nowMs: T0, cost: 50 }); // expired from T0 + 400 on
    for (let i = 0; i < 9; i++) await store.add({ key: `k${i}`, windowMs: W, nowMs: T0 + 500, cost: i === 3 ? 7 : 1 });
    expect(store.size).toBe(10);
    await store.add({ key: "new", windowMs: W, nowMs: T0 + 500, cost: 1 });
    // 11 > 10: the expired one goes (not an eviction), then down to 9 the count-1 counter written first (k0).
    expect(store.size).toBe(9);
    expect(evictions).toEqual([1]);
    const left = async (key: string): Promise<number> => (await store.take({ key, windowMs: W, nowMs: T0 + 500, cost: 0, limit: 100 })).current;
    expect([await left("k0"), await left("k1"), await left("k3"), await left("new")]).toEqual([0, 1, 7, 1]);
  });

  it("keeps a spent budget through a flood of new keys: the flood evicts its own counters", async () => {
    let evicted = 0;
    const store = new MemoryStore({ maxCounters: 1000, onEvict: (n) => (evicted += n) });
    const victim = { key: "login:alice", windowMs: 900_000, limit: 5 };
    for (let i = 0; i < 5; i++) expect((await store.take({ ...victim, nowMs: T0, cost: 1 })).spent).toBe(true);
    for (let i = 0; i < 100_000; i++) await store.take({ key: `login:user-${i}`, windowMs: 900_000, nowMs: T0 + 1, cost: 1, limit: 5 });
    expect(store.size).toBeLessThanOrEqual(1000);
    expect(evicted).toBeGreaterThan(99_000);
    expect(await store.take({ ...victim, nowMs: T0 + 2, cost: 1 })).toEqual({ previous: 0, current: 5, spent: false });
  });

  it("refuses a cap that is not a positive integer", () => {
    expect(() => new MemoryStore({ maxCounters: 0 })).toThrow(/maxCounters must be a positive integer/);
  });
});
