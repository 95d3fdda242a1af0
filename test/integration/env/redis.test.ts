import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { testEnvironment } from "../../support/environment.js";

describe("the real Redis", () => {
  const redis = new Redis(testEnvironment().redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  afterAll(async () => {
    await redis.quit();
  });

  it("answers PING and keeps a value with its expiry", async () => {
    expect(await redis.ping()).toBe("PONG");
    await redis.set("bulwark:smoke", "1", "PX", 60_000);
    expect(await redis.get("bulwark:smoke")).toBe("1");
    expect(await redis.pttl("bulwark:smoke")).toBeGreaterThan(50_000);
    const info = await redis.info("server");
    expect(info).toMatch(/redis_version:7\./);
  });
});
