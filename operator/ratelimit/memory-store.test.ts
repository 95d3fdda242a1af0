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
});
