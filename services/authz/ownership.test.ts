import { describe, expect, it } from "vitest";
import { checkOwnership, matchTemplate } from "./ownership.js";

const rule = { pathParam: "userId", claim: "sub", template: "/v1/users/{userId}/orders/{orderId}" };

function outcome(path: string, payload: Record<string, unknown> | undefined): string {
  const d = checkOwnership(path, payload, rule);
  return d === undefined ? "allowed" : d.allowed ? "allowed" : `${d.status} ${d.reason} ${d.body}`;
}

describe("ownership (BOLA)", () => {
  it("extracts whole-segment variables", () => {
    expect(matchTemplate(rule.template, "/v1/users/alice/orders/42?x=1")).toEqual({ userId: "alice", orderId: "42" });
    expect(matchTemplate(rule.template, "/v1/users/al%40ce/orders/42")).toEqual({ userId: "al@ce", orderId: "42" });
    expect(matchTemplate(rule.template, "/v1/users//orders/42")).toBeUndefined();
    expect(matchTemplate(rule.template, "/v1/users/alice/orders")).toBeUndefined();
    expect(matchTemplate(rule.template, "/v1/users/alice/orders/42/x")).toBeUndefined();
    expect(matchTemplate(rule.template, "/v1/people/alice/orders/42")).toBeUndefined();
    expect(matchTemplate(rule.template, "/v1/users/%E0%A4%A/orders/1")).toBeUndefined();
  });

  it("allows the owner", () => {
    expect(outcome("/v1/users/alice/orders/42", { sub: "alice" })).toBe("allowed");
    expect(checkOwnership("/v1/accounts/7", { uid: 7 }, { pathParam: "id", claim: "uid", template: "/v1/accounts/{id}" })).toBeUndefined();
  });

  it.each([
    ["/v1/users/bob/orders/42", { sub: "alice" }, "ownership_mismatch"],
    ["/v1/users/Alice/orders/42", { sub: "alice" }, "ownership_mismatch"],
    ["/v1/users/alice%2F..%2Fbob/orders/42", { sub: "alice" }, "ownership_mismatch"],
    ["/v1/users/alice/orders/42", { sub: "" }, "ownership_claim_missing"],
    ["/v1/users/alice/orders/42", { sub: ["alice"] }, "ownership_claim_missing"],
    ["/v1/users/alice/orders/42", {}, "ownership_claim_missing"],
    ["/v1/users/alice/orders/42", undefined, "ownership_claim_missing"],
  ])("refuses %s for %j with the same 403 body", (path, payload, reason) => {
    expect(outcome(path, payload)).toBe(`403 ${reason} {"error":"forbidden"}`);
  });

  it("compares paths as the backend does: literals in any case and an ignored trailing slash, values as sent", () => {
    const lenient = { caseSensitive: false, trailingSlash: "Ignore" } as const;
    expect(matchTemplate(rule.template, "/V1/USERS/Bob/Orders/42/", lenient)).toEqual({ userId: "Bob", orderId: "42" });
    expect(matchTemplate(rule.template, "/V1/USERS/Bob/Orders/42/")).toBeUndefined();
    expect(matchTemplate(rule.template, "/v1/users/bob/orders/42//", lenient)).toBeUndefined();
    expect(matchTemplate(rule.template, "/v1/users/bob/orders/42/", { caseSensitive: true, trailingSlash: "Ignore" })).toEqual({ userId: "bob", orderId: "42" });
    expect(matchTemplate(rule.template, "/V1/users/bob/orders/42", { caseSensitive: true, trailingSlash: "Ignore" })).toBeUndefined();
    const d = checkOwnership("/V1/Users/bob/orders/42/", { sub: "alice" }, { ...rule, meaning: lenient });
    expect(d && !d.allowed && d.reason).toBe("ownership_mismatch");
  });
});
