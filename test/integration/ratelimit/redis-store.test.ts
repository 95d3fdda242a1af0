import { afterAll, describe, expect, it } from "vitest";
import { budgetKey } from "../../../services/ratelimit/keys.js";
import { MemoryStore } from "../../../services/ratelimit/memory-store.js";
import { RedisStore } from "../../../services/ratelimit/redis-store.js";
import type { CountRequest } from "../../../services/ratelimit/store.js";
import { testEnvironment, uniqueName } from "../../support/environment.js";
import { waitFor } from "../../support/poll.js";

describe("RedisStore on the real Redis", () => {
  const store = new RedisStore({ url: testEnvironment().redisUrl, commandTimeoutMs: 1000 });
  afterAll(async () => {
    await store.close();
  });
  const T0 = 1_800_000_000_000;

  it("spends atomically: 200 concurrent takes of a budget of 50 spend exactly 50", async () => {
    await waitFor("redis connected", () => Promise.resolve(store.ready ? true : undefined), 30_000, 100);
    const key = `bulwark:rl:{${uniqueName("t")}}`;
    const results = await Promise.all(Array.from({ length: 200 }, () => store.take({ key, windowMs: 60_000, nowMs: T0, cost: 1, limit: 50 })));
    expect(results.filter((r) => r.spent).length).toBe(50);
    expect(await store.redis.get(`${key}:${T0 / 60_000}`)).toBe("50");
    expect(await store.redis.pttl(`${key}:${T0 / 60_000}`)).toBeGreaterThan(60_000);
  });

  it("agrees with the memory store on every step of a random sequence across windows", async () => {
    const memory = new MemoryStore();
    const key = `bulwark:rl:{${uniqueName("seq")}}`;
    let now = T0;
    for (let i = 0; i < 300; i++) {
      now += Math.floor(Math.random() * 700);
      const request: CountRequest = { key, windowMs: 10_000, nowMs: now, cost: Math.floor(Math.random() * 3), limit: 7 };
      if (i % 11 === 0) {
        await Promise.all([store.add(request), memory.add(request)]);
        continue;
      }
      expect(await store.take(request)).toEqual(await memory.take(request));
    }
  });

  it("keeps both windows of a budget in one Redis Cluster slot", () => {
    const key = budgetKey(
      {
        name: "apisecuritypolicy/shop/api/rule/login/ratelimit/failed",
        key: [{ kind: "clientIP" }],
        requests: 5,
        windowSeconds: 900,
        shadow: false,
        failureMode: "Allow",
        responseHeaders: false,
      },
      ["10.0.0.1"],
    );
    const tag = /\{([^}]+)\}/.exec(`${key}:1`)?.[1];
    expect(tag).toBe(/\{([^}]+)\}/.exec(`${key}:0`)?.[1]);
    expect(tag).toHaveLength(22);
  });
});
