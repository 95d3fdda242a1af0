import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { TelemetryEntry } from "../../../contract/telemetry.js";
import { EndpointTable, defaultTableOptions, type EndpointTableJSON } from "./endpoint-table.js";

const workload = "apisecuritypolicy/shop/api/ports/15006-8080";

function entry(overrides: Partial<TelemetryEntry>): TelemetryEntry {
  return {
    workload,
    route: "apisecuritypolicy/shop/api/rule/orders",
    method: "GET",
    path: "/v1/orders/1",
    status: 200,
    authenticated: true,
    clientAddress: "10.0.0.1",
    timeMs: 1_700_000_000_000,
    latencyMs: 3,
    requestBytes: 0,
    responseBytes: 10,
    ...overrides,
  };
}

/** A small deterministic generator (xorshift): the test feeds a million paths without Math.random. */
function generator(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

describe("EndpointTable", () => {
  it("counts per method and template: statuses, authenticated, app versions, routes, first and last seen", () => {
    const table = new EndpointTable();
    table.declare(workload, ["/v1/orders/{id}"]);
    table.observe(entry({ path: "/v1/orders/7", appVersion: "2.1.0", timeMs: 2000 }));
    table.observe(entry({ path: "/v1/orders/abc", status: 404, authenticated: false, appVersion: "2.1.0", timeMs: 1000 }));
    table.observe(entry({ path: "/v1/orders/8", status: 503, appVersion: "1.9.0", timeMs: 3000 }));
    table.observe(entry({ method: "delete", path: "/v1/orders/8" }));
    table.observe(entry({ method: "BREW", path: "/v1/orders/8", status: 0 }));
    const [w] = table.snapshot();
    expect(w).toMatchObject({ workload, policy: { namespace: "shop", name: "api" }, observed: 5, dropped: 0 });
    expect(w!.endpoints.map((e) => `${e.method} ${e.path}`)).toEqual(["DELETE /v1/orders/{id}", "GET /v1/orders/{id}", "OTHER /v1/orders/{id}"]);
    expect(w!.endpoints[1]).toEqual({
      method: "GET",
      path: "/v1/orders/{id}",
      declared: true,
      count: 3,
      statuses: { "2xx": 1, "4xx": 1, "5xx": 1 },
      authenticated: 2,
      appVersions: ["2.1.0", "1.9.0"],
      routes: ["apisecuritypolicy/shop/api/rule/orders"],
      firstSeenMs: 1000,
      lastSeenMs: 3000,
    });
    expect(w!.endpoints[2]!.statuses).toEqual({ "0": 1 });
  });

  it("moves what it learned under a template declared later", () => {
    const table = new EndpointTable();
    table.observe(entry({ path: "/v1/orders/1" }));
    table.observe(entry({ path: "/v1/orders/2", timeMs: 5 }));
    table.declare(workload, ["/v1/orders/{id}"]);
    table.observe(entry({ path: "/v1/orders/3" }));
    expect(table.snapshot()[0]!.endpoints.map((e) => [e.path, e.declared, e.count])).toEqual([["/v1/orders/{id}", true, 3]]);
  });

  it("ignores entries of workloads no policy governs and counts them", () => {
    const table = new EndpointTable();
    table.observe(entry({ workload: "passthrough/shop/ports/15006-8080" }));
    expect(table.snapshot()).toEqual([]);
    expect(table.dropped).toBe(1);
  });

  it("merges endpoints learned before a position collapsed", () => {
    const table = new EndpointTable({ ...defaultTableOptions, learner: { threshold: 4, maxNodes: 100 } });
    for (const name of ["alice", "bob", "carol", "dave", "erin", "frank"]) table.observe(entry({ path: `/v1/users/${name}` }));
    const [w] = table.snapshot();
    expect(w!.endpoints.map((e) => [e.path, e.count])).toEqual([["/v1/users/{param}", 6]]);
  });

  it("keeps every cap under a million distinct random paths, ids collapsed", () => {
    const options = { ...defaultTableOptions, maxWorkloads: 4, maxEndpoints: 500, maxTotalEndpoints: 1200 };
    const table = new EndpointTable(options);
    const next = generator(15);
    const collections = ["users", "orders", "carts", "devices", "sessions"];
    const words = Array.from(
      { length: 5000 },
      (_, i) => `item${String.fromCharCode(97 + (i % 26))}${String.fromCharCode(97 + (Math.floor(i / 26) % 26))}${String.fromCharCode(97 + Math.floor(i / 676))}`,
    );
    for (let i = 0; i < 1_000_000; i++) {
      const r = next();
      const collection = collections[r % collections.length]!;
      const id = [String(r), randomUUID(), r.toString(16).padStart(12, "0"), words[r % words.length]!, Buffer.from(String(r * 7919)).toString("base64url")][i % 5]!;
      table.observe(
        entry({
          workload: `apisecuritypolicy/ns${i % 6}/api/ports/15006-8080`,
          method: ["GET", "POST", `X${r % 1000}`][i % 3]!,
          path: `/v1/${collection}/${id}/${i % 7 === 0 ? `x${r % 100000}` : "detail"}`,
          appVersion: `1.${r % 5000}.0${i % 1000 === 0 ? "x".repeat(10_000) : ""}`,
          route: `route-${r % 50}`,
        }),
      );
    }
    const snapshot = table.snapshot();
    expect(snapshot).toHaveLength(4);
    expect(table.dropped).toBeGreaterThan(0);
    expect(snapshot.reduce((n, w) => n + w.endpoints.length, 0)).toBeLessThanOrEqual(options.maxTotalEndpoints);
    for (const w of snapshot) {
      expect(w.endpoints.length).toBeLessThanOrEqual(options.maxEndpoints);
      for (const e of w.endpoints) {
        expect(e.path).toMatch(/^\/v1\/(users|orders|carts|devices|sessions)\/\{param\}\/(detail|\{param\})$/);
        expect(e.appVersions.length).toBeLessThanOrEqual(options.maxAppVersions);
        for (const v of e.appVersions) expect(v.length).toBeLessThanOrEqual(64);
        expect(e.routes.length).toBeLessThanOrEqual(options.maxRoutes);
      }
    }
    // Serialised state is bounded as well: what the service keeps in Redis.
    expect(JSON.stringify(table.toJSON()).length).toBeLessThan(2_000_000);
    // A million entries: seconds on a quiet machine, over a minute on a 2-core machine running suites beside it.
  }, 300_000);

  it("caps endpoints per workload and over all workloads, counting what it drops", () => {
    const table = new EndpointTable({ ...defaultTableOptions, maxEndpoints: 10, maxTotalEndpoints: 15, learner: { threshold: 1000, maxNodes: 1000 } });
    for (let w = 0; w < 3; w++)
      for (let i = 0; i < 20; i++) table.observe(entry({ workload: `apisecuritypolicy/ns${w}/api/ports/1-2`, path: `/v1/item${String.fromCharCode(97 + i)}` }));
    const snapshot = table.snapshot();
    expect(snapshot.map((w) => [w.endpoints.length, w.observed, w.dropped])).toEqual([
      [10, 20, 10],
      [5, 20, 15],
      [0, 20, 20],
    ]);
  });

  it("rebuilds the same inventory from JSON, within its caps", () => {
    const table = new EndpointTable({ ...defaultTableOptions, learner: { threshold: 4, maxNodes: 100 } });
    table.declare(workload, ["/v1/orders/{id}"]);
    for (let i = 0; i < 20; i++) table.observe(entry({ path: i % 2 ? `/v1/orders/${i}` : `/v1/tags/tag${String.fromCharCode(97 + i)}`, appVersion: `1.${i % 3}`, timeMs: i }));
    const json = JSON.parse(JSON.stringify(table.toJSON())) as EndpointTableJSON;
    const restored = EndpointTable.fromJSON(json, { ...defaultTableOptions, learner: { threshold: 4, maxNodes: 100 } });
    expect(restored.snapshot()).toEqual(table.snapshot());
    restored.observe(entry({ path: "/v1/tags/tagz" }));
    expect(restored.snapshot()[0]!.endpoints.find((e) => e.path === "/v1/tags/{param}")!.count).toBe(11);
    const small = EndpointTable.fromJSON(json, { ...defaultTableOptions, maxEndpoints: 1 });
    expect(small.snapshot()[0]!.endpoints).toHaveLength(1);
  });
});
