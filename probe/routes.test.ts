import { describe, expect, it } from "vitest";
import type { RouteIR } from "../contract/ir.js";
import { isCatchAll, routeFor, ruleOf, samplePath } from "./routes.js";

const forward: RouteIR["action"] = { kind: "forward", checks: { authentication: "Required", globalRateLimits: [] }, responseHeaders: [] };
const lenient = { caseSensitive: false, trailingSlash: "Ignore" } as const;
const routes: RouteIR[] = [
  {
    name: "p/rule/orders",
    match: { path: { kind: "template", template: "/v1/users/{userId}/orders", variables: ["userId"] }, methods: ["GET", "HEAD"], meaning: lenient },
    action: forward,
  },
  { name: "p/rule/account", match: { path: { kind: "exact", path: "/v1/account" }, methods: ["GET"], meaning: { caseSensitive: true, trailingSlash: "Strict" } }, action: forward },
  { name: "p/rule/images", match: { path: { kind: "prefix", prefix: "/v1/images/" }, methods: [], meaning: lenient }, action: forward },
  { name: "p/default", match: { path: { kind: "prefix", prefix: "/" }, methods: [] }, action: { kind: "respond", status: 404, body: "", responseHeaders: [] } },
];

describe("the probe's model of the route table", () => {
  it("finds the first route that matches, comparing paths as each route's meaning says", () => {
    expect(routeFor(routes, "GET", "/V1/Users/bob/orders/")?.name).toBe("p/rule/orders");
    expect(routeFor(routes, "POST", "/v1/users/bob/orders")?.name).toBe("p/default");
    expect(routeFor(routes, "GET", "/v1/account")?.name).toBe("p/rule/account");
    expect(routeFor(routes, "GET", "/V1/ACCOUNT")?.name).toBe("p/default");
    expect(routeFor(routes, "GET", "/v1/account/")?.name).toBe("p/default");
    expect(routeFor(routes, "GET", "/v1/images")?.name).toBe("p/rule/images");
    expect(routeFor(routes, "GET", "/v1/images/a.jpg?x=1")?.name).toBe("p/rule/images");
  });

  it("writes a concrete path of each route, variables filled", () => {
    expect(samplePath(routes[0] as RouteIR, { userId: "user b" })).toBe("/v1/users/user%20b/orders");
    expect(samplePath(routes[0] as RouteIR)).toBe("/v1/users/probe-1/orders");
    expect(samplePath(routes[2] as RouteIR)).toBe("/v1/images/probe");
    const guarded: RouteIR = { name: "p/rule/x/deprecation/0", match: { path: { kind: "prefix", prefix: "/" }, methods: [], pathPrefixGuard: "/v0/" }, action: forward };
    expect(samplePath(guarded)).toBe("/v0/probe");
    expect(ruleOf(guarded)).toBe("p/rule/x");
  });

  it("tells catch-alls apart", () => {
    expect(routes.map(isCatchAll)).toEqual([false, false, false, true]);
  });
});
