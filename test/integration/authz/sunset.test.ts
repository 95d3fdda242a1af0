/**
 * Does authz need to translate again when a deprecation window's sunset passes (as the
 * controller does)? Its route table depends on `now` only through deprecation windows; across a
 * sunset the table only loses the routes Envoy stops sending it (they become direct 410
 * answers), and every route it keeps is unchanged — so a table built before the sunset still
 * decides every request the sidecar asks about after it, and no timer is needed.
 */
import { describe, expect, it } from "vitest";
import { buildRouteTable } from "../../../services/authz/config.js";
import { render } from "../../../operator/translate/render.js";
import { authzPolicyInput } from "../../support/authz-policy.js";

describe("authz route table across a sunset", () => {
  const keys = { keys: [{ kty: "EC", crv: "P-256", x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0", kid: "k1" }] };

  function inputAt(now: string): ReturnType<typeof authzPolicyInput> {
    const input = authzPolicyInput({ idpJwks: keys, attestJwks: keys });
    const spec = (input.policies[0] as { spec: { mobile: Record<string, unknown> } }).spec;
    // Part of the orders template falls under the window: its route is split while the window is open.
    spec.mobile.deprecations = [{ pathPrefix: "/v1/users/legacy", deprecatedAt: "2026-05-01", sunsetAt: "2026-07-01" }];
    return { ...input, now };
  }

  it("only loses routes at the sunset (they become 410 answers without ext_authz); the others stay identical", () => {
    const before = render(inputAt("2026-06-15T00:00:00Z"));
    const after = render(inputAt("2026-07-02T00:00:00Z"));
    const tableBefore = buildRouteTable(before.ir);
    const tableAfter = buildRouteTable(after.ir);

    const split = "apisecuritypolicy/shop/mobile/rule/orders/deprecation/0";
    expect(tableBefore.routes.has(split)).toBe(true);
    expect(tableAfter.routes.has(split)).toBe(false);
    for (const [name, route] of tableAfter.routes) expect(tableBefore.routes.get(name), name).toEqual(route);
    expect(tableAfter.routes.size).toBe(tableBefore.routes.size - 1);

    const sunset = after.ir.workloads[0]?.routes.find((r) => r.name === "apisecuritypolicy/shop/mobile/deprecation/0/sunset");
    expect(sunset?.action).toMatchObject({ kind: "respond", status: 410 });
  });
});
