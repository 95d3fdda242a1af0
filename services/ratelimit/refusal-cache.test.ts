import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MemoryStore } from "./memory-store.js";
import { RefusalCache } from "./refusal-cache.js";
import type { CountRequest, CountResult, CounterStore } from "./store.js";

/** A store that counts the calls that reach it. */
class Counting implements CounterStore {
  takes = 0;
  constructor(readonly inner: CounterStore = new MemoryStore()) {}
  take(request: CountRequest): Promise<CountResult> {
    this.takes++;
    return this.inner.take(request);
  }
  add(request: Omit<CountRequest, "limit">): Promise<void> {
    return this.inner.add(request);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

const W = 60_000;
const T0 = 1_000 * W;

describe("the cache of refused budgets", () => {
  it("answers a spent budget without the store until a request could fit again, then asks the store", async () => {
    const store = new Counting();
    const cache = new RefusalCache(store);
    const take = (nowMs: number, cost = 1): Promise<CountResult> => cache.take({ key: "k", windowMs: W, nowMs, cost, limit: 2 });
    expect((await take(T0)).spent).toBe(true);
    expect((await take(T0 + 1)).spent).toBe(true);
    const refused = await take(T0 + 2);
    expect(refused).toEqual({ current: 2, previous: 0, spent: false });
    expect(store.takes).toBe(3);
    // The rest of the window: refused from memory, with the counts the store gave.
    for (let t = 3; t < W; t += 997) expect(await take(T0 + t)).toEqual(refused);
    // An outcome-aware check (cost 0) of a spent budget is a refusal too.
    expect((await take(T0 + 10, 0)).spent).toBe(false);
    expect(store.takes).toBe(3);
    // In the next window the previous count decays: the store is asked again.
    await take(T0 + W + W / 2 + 1);
    expect(store.takes).toBe(4);
  });

  it("asks the store again within the window once the previous window's share has decayed enough", async () => {
    const store = new Counting();
    const cache = new RefusalCache(store);
    const take = (nowMs: number): Promise<CountResult> => cache.take({ key: "k", windowMs: W, nowMs, cost: 1, limit: 2 });
    await take(T0);
    await take(T0 + 1);
    // Next window: the previous 2 count as floor(2 × (W - e) / W) = 1 until halfway.
    expect((await take(T0 + W + 1)).spent).toBe(true);
    expect((await take(T0 + W + 2)).spent).toBe(false);
    expect((await take(T0 + W + W / 2 - 1)).spent).toBe(false);
    expect(store.takes).toBe(4);
    expect((await take(T0 + W + W / 2 + 1)).spent).toBe(true);
    expect(store.takes).toBe(5);
  });

  it("asks the store for another limit, a smaller request, and after a spend of the same budget", async () => {
    const store = new Counting();
    const cache = new RefusalCache(store);
    const take = (cost: number, limit = 3): Promise<CountResult> => cache.take({ key: "k", windowMs: W, nowMs: T0, cost, limit });
    await take(3);
    expect((await take(2)).spent).toBe(false);
    expect(store.takes).toBe(2);
    await take(2);
    expect(store.takes).toBe(2);
    expect((await take(1)).spent).toBe(false); // smaller than the refusal: asked (and still refused)
    expect(store.takes).toBe(3);
    expect((await take(1, 10)).spent).toBe(true); // the limit changed: asked
    expect(store.takes).toBe(4);
    await take(10);
    await cache.add({ key: "k", windowMs: W, nowMs: T0, cost: 1 });
    await take(10);
    expect(store.takes).toBe(6);
  });

  it("never remembers a passing check or a spend", async () => {
    const store = new Counting();
    const cache = new RefusalCache(store);
    for (let i = 0; i < 3; i++) expect((await cache.take({ key: "k", windowMs: W, nowMs: T0, cost: 0, limit: 2 })).spent).toBe(false);
    for (let i = 0; i < 2; i++) expect((await cache.take({ key: "k", windowMs: W, nowMs: T0, cost: 1, limit: 2 })).spent).toBe(true);
    expect(store.takes).toBe(5);
    expect(cache.size).toBe(0);
  });

  it("gives exactly the answers of the store alone, for any sequence of requests, outcomes and times", async () => {
    const op = fc.record({
      key: fc.constantFrom("a", "b"),
      kind: fc.constantFrom("take", "take", "take", "add"),
      cost: fc.nat({ max: 3 }),
      limit: fc.constantFrom(2, 5),
      advanceMs: fc.oneof(fc.nat({ max: 50 }), fc.nat({ max: W / 4 }), fc.nat({ max: W })),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 80 }), async (ops) => {
        const alone = new MemoryStore();
        const cached = new RefusalCache(new MemoryStore(), ops.length % 2 ? 1 : 100);
        let now = T0;
        for (const o of ops) {
          now += o.advanceMs;
          const request = { key: o.key, windowMs: W, nowMs: now, cost: o.cost, limit: o.limit };
          if (o.kind === "add") {
            await alone.add(request);
            await cached.add(request);
          } else expect(await cached.take(request)).toEqual(await alone.take(request));
        }
      }),
      { numRuns: 300 },
    );
  });
});
