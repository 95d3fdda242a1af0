import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryStore } from "../../../services/ratelimit/memory-store.js";
import { RedisStore } from "../../../services/ratelimit/redis-store.js";
import type { CountRequest } from "../../../services/ratelimit/store.js";
import { OwnRedis } from "../../support/ratelimit-stack.js";
import { waitFor } from "../../support/poll.js";

/** Script calls Redis has run (EVALSHA and EVAL), from INFO commandstats. */
async function scriptCalls(store: RedisStore): Promise<number> {
  const info = await store.redis.info("commandstats");
  let calls = 0;
  for (const m of info.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)) calls += Number(m[1]);
  return calls;
}

describe("RedisStore counts the budgets of concurrent decisions in one script call", () => {
  let redis: OwnRedis;
  let store: RedisStore;
  const T0 = 1_800_000_000_000;

  beforeAll(async () => {
    redis = await OwnRedis.start();
    store = new RedisStore({ url: redis.url, commandTimeoutMs: 5000 });
    await waitFor("redis connected", () => Promise.resolve(store.ready ? true : undefined), 30_000, 100);
  });

  afterAll(async () => {
    await store?.close();
    await redis?.stop();
  });

  it("in a few calls, with the answers of the same requests taken one by one in order", async () => {
    const memory = new MemoryStore();
    const requests: { kind: "take" | "add"; request: CountRequest }[] = Array.from({ length: 300 }, (_, i) => ({
      kind: i % 13 === 0 ? "add" : "take",
      request: { key: `bulwark:rl:{k${i % 7}}`, windowMs: 10_000, nowMs: T0 + i * 37, cost: i % 4, limit: 9 },
    }));
    const before = await scriptCalls(store);
    // All asked in one turn of the event loop, as a burst of decisions read together is.
    const batched = await Promise.all(requests.map((r) => (r.kind === "add" ? store.add(r.request) : store.take(r.request))));
    const calls = (await scriptCalls(store)) - before;
    const oneByOne: unknown[] = [];
    for (const r of requests) oneByOne.push(r.kind === "add" ? await memory.add(r.request) : await memory.take(r.request));
    expect(batched).toEqual(oneByOne);
    // 300 budgets, at most 128 a call (INFO itself is not a script).
    expect(calls).toBeLessThanOrEqual(3);
    expect(calls).toBeGreaterThanOrEqual(1);
  });

  it("fails every decision of a batch when Redis is gone, and counts again when it is back", async () => {
    await redis.stop();
    const failed = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => store.take({ key: `bulwark:rl:{gone${i}}`, windowMs: 10_000, nowMs: T0, cost: 1, limit: 9 })));
    expect(failed.every((r) => r.status === "rejected")).toBe(true);
    await redis.restart();
    await waitFor("redis reconnected", () => Promise.resolve(store.ready ? true : undefined), 30_000, 100);
    const back = await Promise.all(Array.from({ length: 5 }, () => store.take({ key: "bulwark:rl:{back}", windowMs: 10_000, nowMs: T0, cost: 1, limit: 3 })));
    expect(back.map((r) => r.spent)).toEqual([true, true, true, false, false]);
  });
});
