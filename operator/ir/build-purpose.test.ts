import { describe, expect, it } from "vitest";
import { resolvePolicies } from "../resolve/resolve.js";
import { jwtAuthentication, policy, service, sidecarPod } from "../testdata/objects.js";
import { buildIR } from "./build.js";

describe("rule purpose in the IR", () => {
  it("carries Login and Payment onto the rule's routes (deprecation splits included), nothing elsewhere", () => {
    const spec = {
      targetRefs: [{ kind: "Service", name: "shop-api" }],
      authentication: jwtAuthentication,
      rules: [
        { name: "login", match: { path: "/v1/login" }, authentication: "None", purpose: "Login" },
        { name: "pay", match: { pathPrefix: "/" }, purpose: "Payment" },
        { name: "feed", match: { path: "/v2/feed" } },
      ],
      mobile: { deprecations: [{ pathPrefix: "/v1/", deprecatedAt: "2026-06-01", sunsetAt: "2027-01-01" }] },
    };
    const ir = buildIR(
      resolvePolicies({
        policies: [policy({ name: "p", created: "2026-01-01T00:00:00Z", spec })],
        services: [service("shop", "shop-api", { app: "shop" })],
        pods: [sidecarPod("shop", "shop-1", { app: "shop" })],
        secrets: [],
        now: "2026-11-25T12:00:00Z",
      }),
    );
    const purposes = (ir.workloads[0]?.routes ?? []).map((r) => `${r.name} ${r.purpose ?? "-"}`);
    expect(purposes).toEqual([
      "apisecuritypolicy/shop/p/rule/login Login",
      "apisecuritypolicy/shop/p/rule/pay/deprecation/0 Payment",
      "apisecuritypolicy/shop/p/rule/pay Payment",
      "apisecuritypolicy/shop/p/rule/feed -",
      "apisecuritypolicy/shop/p/default -",
    ]);
  });
});
