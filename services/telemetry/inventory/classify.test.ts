import { describe, expect, it } from "vitest";
import type { RouteIR } from "../../../contract/ir.js";
import type { TelemetryEntry } from "../../../contract/telemetry.js";
import { policySpec, type PolicySpec } from "../../../operator/api/v1alpha1/policy.js";
import { buildRoutes } from "../../../operator/ir/build-routes.js";
import { deprecationWindows } from "../../../operator/ir/deprecations.js";
import { classCounts, classifyWorkload } from "./classify.js";
import { declaredByRoutes, declaredTemplates, routeFacts } from "./declared-routes.js";
import { EndpointTable } from "./endpoint-table.js";
import { readOpenApi } from "./openapi-document.js";

const policy = "apisecuritypolicy/shop/api";
const workload = `${policy}/ports/15006-8080`;
const now = "2026-12-03T12:00:00Z";

function routesOf(spec: Record<string, unknown>): RouteIR[] {
  const parsed: PolicySpec = policySpec.parse({ targetRefs: [{ kind: "Service", name: "api" }], ...spec });
  return buildRoutes(policy, parsed, deprecationWindows(parsed.mobile?.deprecations, now), "shop");
}

const rules = [
  { name: "orders", match: { pathTemplate: "/v1/orders/{id}", methods: ["GET"] }, authentication: "None" },
  { name: "login", match: { path: "/v1/login", methods: ["POST"] }, authentication: "None" },
  { name: "legacy", match: { pathPrefix: "/v0/", methods: ["GET"] }, authentication: "None" },
  { name: "profile", match: { path: "/v2/profile", methods: ["GET", "PUT"] }, authentication: "None" },
];
const deprecations = [
  { pathPrefix: "/v0/", deprecatedAt: "2026-01-01", sunsetAt: "2027-01-01" },
  { pathPrefix: "/v0/old/", deprecatedAt: "2025-01-01", sunsetAt: "2026-06-01" },
];

/** What the sidecar would report: the route Envoy picked is the first that matches (the test picks it by hand). */
function observe(table: EndpointTable, route: string, method: string, path: string, appVersion = "3.0.0"): void {
  const entry: TelemetryEntry = {
    workload,
    route,
    method,
    path,
    status: 200,
    authenticated: false,
    appVersion,
    clientAddress: "10.0.0.1",
    timeMs: Date.parse(now),
    latencyMs: 1,
    requestBytes: 0,
    responseBytes: 0,
  };
  table.observe(entry);
}

describe("declared routes", () => {
  it("reads rules, the catch-all, deprecation windows and sunsets from the IR", () => {
    const routes = routesOf({ rules, mobile: { deprecations }, defaultAction: "Deny" });
    const facts = Object.fromEntries(routes.map((r) => [r.name, routeFacts(r)]));
    expect(facts[`${policy}/deprecation/1/sunset`]).toMatchObject({ role: "sunset", sunset: true });
    expect(facts[`${policy}/rule/legacy`]).toMatchObject({ role: "rule", match: "prefix", deprecated: true });
    expect(facts[`${policy}/rule/orders`]).toMatchObject({ role: "rule", match: "template", deprecated: false });
    expect(facts[`${policy}/default`]).toMatchObject({ role: "default", denies: true });
    expect(declaredByRoutes(routes).map((d) => `${d.method} ${d.path}`)).toEqual(["POST /v1/login", "GET /v1/orders/{id}", "GET /v2/profile", "PUT /v2/profile"]);
    expect(declaredTemplates(declaredByRoutes(routes))).toEqual(["/v1/login", "/v1/orders/{id}", "/v2/profile"]);
  });

  it("marks the part of a default Allow inside a window as deprecated", () => {
    const routes = routesOf({ rules: [], mobile: { deprecations: [deprecations[0]] }, defaultAction: "Allow" });
    const split = routes.find((r) => r.name === `${policy}/default/deprecation/0`);
    expect(split && routeFacts(split)).toMatchObject({ role: "default", deprecated: true });
    expect(routeFacts(routes.at(-1)!)).toMatchObject({ role: "default", deprecated: false, denies: false });
  });
});

describe("classifyWorkload", () => {
  const openapi = readOpenApi(
    [
      "openapi: 3.1.0",
      "servers: [{url: https://api.example.com/}]",
      "paths:",
      "  /v1/orders/{orderId}: {get: {responses: {'200': {description: ok}}}, delete: {deprecated: true}}",
      "  /v1/catalog/{sku}: {get: {}}",
      "  /v1/never: {post: {}}",
    ].join("\n"),
  );

  function inventory(defaultAction: "Deny" | "Allow", withDocument: boolean): ReturnType<typeof classifyWorkload> {
    const routes = routesOf({ rules, mobile: { deprecations }, defaultAction });
    const declared = declaredByRoutes(routes);
    const table = new EndpointTable();
    table.declare(workload, declaredTemplates([...declared, ...(withDocument ? openapi.endpoints : [])]));
    observe(table, `${policy}/rule/orders`, "GET", "/v1/orders/42");
    observe(table, `${policy}/rule/orders`, "HEAD", "/v1/orders/43");
    observe(table, `${policy}/rule/login`, "POST", "/v1/login");
    observe(table, `${policy}/rule/legacy`, "GET", "/v0/items", "1.2.0");
    observe(table, `${policy}/rule/legacy`, "GET", "/v0/items", "1.1.0");
    observe(table, `${policy}/deprecation/1/sunset`, "GET", "/v0/old/thing", "0.9.0");
    observe(table, `${policy}/default`, "GET", "/internal/debug");
    observe(table, `${policy}/default`, "GET", "/v1/catalog/ab12cd34ef");
    observe(table, `${policy}/default`, "DELETE", "/v1/orders/42");
    return classifyWorkload({ observed: table.snapshot()[0]!, routes, ...(withDocument ? { openapi: openapi.endpoints } : {}) });
  }

  it("classifies against the policy alone", () => {
    const inv = inventory("Deny", false);
    const byKey = Object.fromEntries(inv.endpoints.map((e) => [`${e.method} ${e.path}`, e]));
    expect(Object.fromEntries(Object.entries(byKey).map(([k, e]) => [k, e.class]))).toEqual({
      "GET /v1/orders/{id}": "documented",
      "HEAD /v1/orders/{id}": "documented",
      "POST /v1/login": "documented",
      "GET /v0/items": "zombie",
      "GET /v0/old/thing": "zombie",
      "GET /internal/debug": "shadow",
      "GET /v1/catalog/{param}": "shadow",
      "DELETE /v1/orders/{id}": "shadow",
      "GET /v2/profile": "unused",
      "PUT /v2/profile": "unused",
    });
    expect(byKey["GET /v0/items"]).toMatchObject({ appVersions: ["1.1.0", "1.2.0"], declaredBy: `${policy}/rule/legacy`, count: 2 });
    expect(byKey["GET /v0/old/thing"]!.declaredBy).toBe(`${policy}/deprecation/1/sunset`);
    expect(byKey["GET /v2/profile"]).toMatchObject({ count: 0, declaredBy: `${policy}/rule/profile` });
    expect(byKey["GET /v2/profile"]!.firstSeen).toBeUndefined();
    expect(classCounts([inv])).toEqual({ documented: 3, shadow: 3, zombie: 2, unused: 2 });
    expect(inv.endpoints.map((e) => e.path)).toEqual([...inv.endpoints.map((e) => e.path)].sort());
  });

  it("adds what the OpenAPI document declares and deprecates", () => {
    expect(openapi.errors).toEqual([]);
    const inv = inventory("Allow", true);
    const classes = Object.fromEntries(inv.endpoints.map((e) => [`${e.method} ${e.path}`, [e.class, e.declaredBy]]));
    expect(classes["GET /v1/catalog/{sku}"]).toEqual(["documented", "openapi"]);
    expect(classes["DELETE /v1/orders/{id}"]).toEqual(["zombie", "openapi"]);
    expect(classes["GET /internal/debug"]).toEqual(["shadow", undefined]);
    expect(classes["POST /v1/never"]).toEqual(["unused", "openapi"]);
    // The rule's {id} and the document's {orderId} are one endpoint, not an unused twin.
    expect(Object.keys(classes).filter((k) => k.startsWith("GET /v1/orders/"))).toEqual(["GET /v1/orders/{id}"]);
  });

  it("calls shadow what only a prefix rule let through when the document does not have it", () => {
    const routes = routesOf({ rules: [{ name: "all", match: { pathPrefix: "/v3/", methods: ["GET"] }, authentication: "None" }] });
    const table = new EndpointTable();
    observe(table, `${policy}/rule/all`, "GET", "/v3/listed");
    observe(table, `${policy}/rule/all`, "GET", "/v3/hidden");
    const doc = readOpenApi(JSON.stringify({ openapi: "3.0.3", servers: [{ url: "/v3" }], paths: { "/listed": { get: {} } } }));
    const classes = (openapi?: typeof doc.endpoints): string[] =>
      classifyWorkload({ observed: table.snapshot()[0]!, routes, ...(openapi ? { openapi } : {}) }).endpoints.map((e) => `${e.path} ${e.class}`);
    expect(classes()).toEqual(["/v3/hidden documented", "/v3/listed documented"]);
    expect(classes(doc.endpoints)).toEqual(["/v3/hidden shadow", "/v3/listed documented"]);
  });
});

describe("classifyWorkload after the policy changed", () => {
  it("classifies by path what only routes no longer in the IR served", () => {
    const routes = routesOf({ rules: [{ name: "orders-v2", match: { pathTemplate: "/v1/orders/{id}", methods: ["GET"] }, authentication: "None" }] });
    const table = new EndpointTable();
    table.declare(workload, declaredTemplates(declaredByRoutes(routes)));
    observe(table, `${policy}/rule/orders`, "GET", "/v1/orders/1");
    observe(table, `${policy}/rule/gone`, "GET", "/v1/gone");
    const inv = classifyWorkload({ observed: table.snapshot()[0]!, routes });
    expect(inv.endpoints.map((e) => [e.path, e.class, e.declaredBy])).toEqual([
      ["/v1/gone", "shadow", undefined],
      ["/v1/orders/{id}", "documented", `${policy}/rule/orders-v2`],
    ]);
  });
});

describe("readOpenApi", () => {
  it("reports what it cannot read instead of throwing", () => {
    expect(readOpenApi("{").errors[0]).toMatch(/neither JSON nor YAML/);
    expect(readOpenApi("swagger: '2.0'\npaths: {}").errors).toEqual(["not an OpenAPI 3 document: it needs `openapi: 3.x`"]);
    expect(readOpenApi("openapi: 3.0.0\npaths: {pets: {get: {}}}").errors).toEqual(["paths.pets: a path starts with / and holds operations"]);
  });
});
