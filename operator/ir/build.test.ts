import { describe, expect, it } from "vitest";
import { resolvePolicies } from "../resolve/resolve.js";
import type { TranslationInput } from "../resolve/objects.js";
import { jwtAuthentication, policy, service, sidecarPod } from "../testdata/objects.js";
import { buildIR } from "./build.js";
import { nextSunset } from "./deprecations.js";
import type { RouteIR } from "../../contract/ir.js";

const shop = service("shop", "shop-api", { app: "shop" });
const pods = [sidecarPod("shop", "shop-1", { app: "shop" })];

function routesFor(spec: Record<string, unknown>, now = "2026-11-25T12:00:00Z"): RouteIR[] {
  const input: TranslationInput = {
    policies: [policy({ name: "p", created: "2026-01-01T00:00:00Z", spec: { targetRefs: [{ kind: "Service", name: "shop-api" }], ...spec } })],
    services: [shop],
    pods,
    secrets: [],
    now,
  };
  const ir = buildIR(resolvePolicies(input));
  return ir.workloads[0]?.routes ?? [];
}

const summary = (routes: RouteIR[]): string[] =>
  routes.map(
    (r) =>
      `${r.name} ${r.action.kind}${r.action.kind === "respond" ? ` ${r.action.status}` : ""}${r.match.pathPrefixGuard ? ` guard=${r.match.pathPrefixGuard}` : ""}${r.action.responseHeaders.length ? ` headers=${r.action.responseHeaders.map((h) => h.name).join(",")}` : ""}`,
  );

describe("buildIR routes", () => {
  const deprecations = [
    { pathPrefix: "/v1/", deprecatedAt: "2026-06-01", sunsetAt: "2027-01-01", link: "https://dev.example.com/v2" },
    { pathPrefix: "/v0/", deprecatedAt: "2025-01-01", sunsetAt: "2026-01-01" },
  ];
  const rules = [
    { name: "orders", match: { methods: ["GET"], pathTemplate: "/v1/users/{userId}/orders" } },
    { name: "everything", match: { pathPrefix: "/" } },
  ];

  it("puts retired prefixes first (410), splits a rule only partly inside a window, and ends with the default action", () => {
    expect(summary(routesFor({ authentication: jwtAuthentication, rules, mobile: { deprecations } }))).toEqual([
      "apisecuritypolicy/shop/p/deprecation/1/sunset respond 410 headers=sunset",
      "apisecuritypolicy/shop/p/rule/orders forward headers=deprecation,sunset,link",
      "apisecuritypolicy/shop/p/rule/everything/deprecation/0 forward guard=/v1/ headers=deprecation,sunset,link",
      "apisecuritypolicy/shop/p/rule/everything forward",
      "apisecuritypolicy/shop/p/default respond 404",
    ]);
  });

  it("sends the RFC 9745 and RFC 8594 header values", () => {
    const [, orders] = routesFor({ authentication: jwtAuthentication, rules, mobile: { deprecations } });
    expect(orders?.action.responseHeaders).toEqual([
      { name: "deprecation", value: "@1780272000" },
      { name: "sunset", value: "Fri, 01 Jan 2027 00:00:00 GMT" },
      { name: "link", value: '<https://dev.example.com/v2>; rel="deprecation"; type="text/html"' },
    ]);
  });

  it("retires /v1/ once its sunset has passed, and says when the next one comes", () => {
    expect(summary(routesFor({ authentication: jwtAuthentication, rules, mobile: { deprecations } }, "2027-01-01T00:00:00Z")).slice(0, 2)).toEqual([
      "apisecuritypolicy/shop/p/deprecation/0/sunset respond 410 headers=sunset,link",
      "apisecuritypolicy/shop/p/deprecation/1/sunset respond 410 headers=sunset",
    ]);
    expect(nextSunset(deprecations, "2026-11-25T12:00:00Z")).toBe("2027-01-01T00:00:00.000Z");
    expect(nextSunset(deprecations, "2027-01-01T00:00:00Z")).toBeUndefined();
  });

  it("asks authz only for what Envoy cannot check", () => {
    const routes = routesFor({
      authentication: { jwt: { ...jwtAuthentication.jwt, senderConstraint: { dpop: { required: true } } } },
      rules: [
        { name: "public", match: { path: "/health" }, authentication: "None" },
        { name: "orders", match: { pathTemplate: "/v1/users/{userId}/orders" }, require: { scopes: ["orders:read"] }, ownership: { pathParam: "userId" } },
      ],
      defaultAction: "Allow",
    });
    const checks = routes.map((r) => (r.action.kind === "forward" ? r.action.checks : undefined));
    expect(checks[0]).toEqual({ authentication: "None", globalRateLimits: [] });
    expect(checks[1]?.authz).toEqual({
      dpop: true,
      certificateBound: false,
      appAttestation: false,
      minAppVersion: false,
      ownership: { pathParam: "userId", claim: "sub", template: "/v1/users/{userId}/orders", meaning: { caseSensitive: false, trailingSlash: "Ignore" } },
    });
    expect(checks[1]?.require).toEqual({ scopes: ["orders:read"], claims: [] });
    expect(checks[2]).toEqual({ authentication: "None", globalRateLimits: [] });
  });

  it("serves HEAD under the rule for GET and compares paths as the backend does (safe default: any case, trailing slash ignored)", () => {
    const [orders] = routesFor({ authentication: jwtAuthentication, rules });
    expect(orders?.match).toEqual({
      path: { kind: "template", template: "/v1/users/{userId}/orders", variables: ["userId"] },
      methods: ["GET", "HEAD"],
      meaning: { caseSensitive: false, trailingSlash: "Ignore" },
    });
    const [strict] = routesFor({ authentication: jwtAuthentication, rules, backendMatching: { caseSensitive: true, trailingSlash: "Strict" } });
    expect(strict?.match.meaning).toEqual({ caseSensitive: true, trailingSlash: "Strict" });
  });

  it("is deterministic: shuffled input gives byte-identical IR", () => {
    const policies = [
      policy({
        name: "a",
        created: "2026-01-01T00:00:00Z",
        spec: { targetRefs: [{ kind: "Service", name: "shop-api" }], rules: [{ name: "x", match: { pathPrefix: "/" }, authentication: "None" }] },
      }),
      policy({
        name: "b",
        created: "2026-01-01T00:00:00Z",
        spec: { podSelector: { matchLabels: { app: "shop" } }, rules: [{ name: "y", match: { pathPrefix: "/" }, authentication: "None" }] },
      }),
    ];
    const allPods = [...pods, sidecarPod("shop", "shop-0", { app: "shop" }), sidecarPod("web", "w", { app: "w" })];
    const make = (reverse: boolean): string => {
      const order = <T>(items: T[]): T[] => (reverse ? [...items].reverse() : items);
      return JSON.stringify(buildIR(resolvePolicies({ policies: order(policies), services: [shop], pods: order(allPods), secrets: [], now: "2026-11-25T12:00:00Z" })));
    };
    const forward = make(false);
    expect(forward).toBe(make(true));
    // Same creation time: the tie is broken by namespace/name, so "a" governs the shop pods.
    expect(forward).toContain('"name":"apisecuritypolicy/shop/a/ports/15006-8080"');
    expect(forward).not.toContain("apisecuritypolicy/shop/b/ports");
  });
});
