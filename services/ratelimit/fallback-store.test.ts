import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { FallbackStore } from "./fallback-store.js";
import { RedisStore } from "./redis-store.js";

describe("the store that falls back to memory", () => {
  it("tells of every count made in memory while Redis does not answer, not only of the first", async () => {
    let fallbacks = 0;
    // Nothing listens on port 1: the connection is never ready.
    const store = new FallbackStore(new RedisStore({ url: "redis://127.0.0.1:1" }), pino({ level: "silent" }), {}, () => fallbacks++);
    try {
      for (let i = 0; i < 3; i++) expect((await store.take({ key: "k", windowMs: 60_000, nowMs: 1_000_000, cost: 1, limit: 2 })).spent).toBe(i < 2);
      await store.add({ key: "k", windowMs: 60_000, nowMs: 1_000_000, cost: 1 });
      expect(fallbacks).toBe(4);
      expect(store.isDegraded).toBe(true);
    } finally {
      await store.close();
    }
  });
});
