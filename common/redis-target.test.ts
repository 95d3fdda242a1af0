import { describe, expect, it } from "vitest";
import { parseClusterNodes, redisTarget } from "./redis-target.js";

describe("redisTarget", () => {
  it("is memory without flags, one Redis by URL, a cluster by seed nodes", () => {
    expect(redisTarget({})).toBeUndefined();
    expect(redisTarget({ url: "rediss://r.data.svc:6380" })).toEqual({ kind: "single", url: "rediss://r.data.svc:6380" });
    expect(redisTarget({ clusterNodes: "redis-0.data.svc:6379, 10.0.0.7:7000,[fd00::1]:6379" })).toEqual({
      kind: "cluster",
      nodes: [
        { host: "redis-0.data.svc", port: 6379 },
        { host: "10.0.0.7", port: 7000 },
        { host: "fd00::1", port: 6379 },
      ],
    });
  });

  it("refuses both at once, a URL of another scheme and nodes that are not HOST:PORT, saying what is allowed", () => {
    expect(() => redisTarget({ url: "redis://a:1", clusterNodes: "b:2" })).toThrow("--redis-url and --redis-cluster-nodes name two different stores: set one of them");
    expect(() => redisTarget({ url: "redis+cluster://a:1" })).toThrow("is not a redis:// or rediss:// URL");
    expect(() => parseClusterNodes("a:1,,b:2")).toThrow("is not a comma-separated list of HOST:PORT");
    expect(() => parseClusterNodes("redis-0")).toThrow("--redis-cluster-nodes: redis-0 is not HOST:PORT (a port from 1 to 65535)");
    expect(() => parseClusterNodes("redis-0:70000")).toThrow("a port from 1 to 65535");
    expect(() => parseClusterNodes("redis://a:1")).toThrow("is not HOST:PORT");
  });
});
