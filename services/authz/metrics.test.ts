import { describe, expect, it } from "vitest";
import { RouteTableHolder } from "./config.js";
import { allow, refuse } from "./decision.js";
import { authzHealthChecks } from "./health.js";
import { AuthzMetrics } from "./metrics.js";

const table = (version: string, names: string[]): Parameters<RouteTableHolder["swap"]>[0] => ({
  version,
  routes: new Map(names.map((name) => [name, { name, authentication: "Required", checks: { dpop: true, certificateBound: false, appAttestation: false, minAppVersion: false } }])),
});

async function sample(metrics: AuthzMetrics, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  const values = metric?.values.filter((v) => Object.entries(labels).every(([k, want]) => String((v.labels as Record<string, unknown>)[k]) === want)) ?? [];
  return values.length === 0 ? undefined : values.reduce((sum, v) => sum + v.value, 0);
}

describe("AuthzMetrics", () => {
  it("counts decisions by outcome and reason and observes their latency", async () => {
    const metrics = new AuthzMetrics(new RouteTableHolder());
    metrics.record(allow(), 0.0004);
    metrics.record(allow(), 0.0006);
    metrics.record(refuse(401, "dpop_proof_replayed"), 0.001);
    metrics.record(undefined, 0.002);
    expect(await sample(metrics, "bulwark_authz_decisions_total", { outcome: "allowed", reason: "none" })).toBe(2);
    expect(await sample(metrics, "bulwark_authz_decisions_total", { outcome: "refused", reason: "dpop_proof_replayed" })).toBe(1);
    expect(await sample(metrics, "bulwark_authz_decisions_total", { outcome: "error", reason: "check_failed" })).toBe(1);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/^bulwark_authz_check_duration_seconds_count\{outcome="allowed"\} 2$/m);
    expect(text).toMatch(/^bulwark_authz_check_duration_seconds_bucket\{le="0.0005",outcome="allowed"\} 1$/m);
  });

  it("counts the requests of flagged identities, enforced and shadowed, by action and signal", async () => {
    const metrics = new AuthzMetrics(new RouteTableHolder());
    metrics.record(refuse(403, "adaptive-block:CredentialStuffing"), 0.0001);
    metrics.record(refuse(429, "adaptive-throttle:Scraping"), 0.0001);
    metrics.record(allow([], { set: [], shadowRefusal: "adaptive-block:CredentialStuffing" }), 0.0001);
    metrics.record(refuse(401, "token_missing"), 0.0001);
    expect(await sample(metrics, "bulwark_authz_adaptive_total", { action: "block", mode: "enforced", signal: "CredentialStuffing" })).toBe(1);
    expect(await sample(metrics, "bulwark_authz_adaptive_total", { action: "throttle", mode: "enforced", signal: "Scraping" })).toBe(1);
    expect(await sample(metrics, "bulwark_authz_adaptive_total", { action: "block", mode: "shadow" })).toBe(1);
    expect(await sample(metrics, "bulwark_authz_adaptive_total")).toBe(3);
  });

  it("reports the version and size of the table in use, none before one is loaded", async () => {
    const tables = new RouteTableHolder();
    const metrics = new AuthzMetrics(tables);
    expect(await sample(metrics, "bulwark_authz_route_table_info")).toBeUndefined();
    expect(await sample(metrics, "bulwark_authz_routes")).toBe(0);
    tables.swap(table("aaaa", ["r1", "r2"]));
    expect(await sample(metrics, "bulwark_authz_route_table_info", { version: "aaaa" })).toBe(1);
    tables.swap(table("bbbb", ["r1"]));
    expect(await sample(metrics, "bulwark_authz_route_table_info", { version: "aaaa" })).toBeUndefined();
    expect(await sample(metrics, "bulwark_authz_route_table_info", { version: "bbbb" })).toBe(1);
    expect(await sample(metrics, "bulwark_authz_routes")).toBe(1);
  });
});

describe("authzHealthChecks", () => {
  it("is ready only with a table and a serving port, and neither live nor ready when stopping", () => {
    const tables = new RouteTableHolder();
    let serving = false;
    let stopping = false;
    const checks = authzHealthChecks({ tables, serving: () => serving, stopping: () => stopping });
    expect([checks.live(), checks.ready()]).toEqual([true, false]);
    serving = true;
    expect(checks.ready()).toBe(false);
    tables.swap(table("aaaa", []));
    expect(checks.ready()).toBe(true);
    stopping = true;
    expect([checks.live(), checks.ready()]).toEqual([false, false]);
  });
});
