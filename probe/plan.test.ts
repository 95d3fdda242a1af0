import { describe, expect, it } from "vitest";
import { policy } from "../operator/testdata/objects.js";
import { choosePolicy, currentAppHeaders } from "./plan.js";

const spec = {
  targetRefs: [{ kind: "Service", name: "shop-api" }],
  rules: [{ name: "orders", match: { methods: ["GET"], pathTemplate: "/v1/users/{userId}/orders" }, authentication: "None" }],
  mobile: { minAppVersion: { minimum: "3.0.0", platforms: { ios: "4.3.0" } } },
};
const input = (policies: unknown[]): Parameters<typeof choosePolicy>[0] => ({ policies, services: [], pods: [], secrets: [], now: "2026-12-03T00:00:00Z" });

describe("the probe's plan", () => {
  it("builds the policy's routes from the same translation, with a placeholder pod when the files hold only the policy", () => {
    const choice = choosePolicy(input([policy({ name: "shop", created: "2026-01-01T00:00:00Z", spec })]), undefined);
    expect(choice.placeholder).toBe(true);
    expect(choice.workload.routes.map((r) => r.name)).toEqual(["apisecuritypolicy/shop/shop/rule/orders", "apisecuritypolicy/shop/shop/default"]);
    expect(currentAppHeaders(choice.workload, undefined, undefined)).toEqual([
      ["x-app-version", "4.3.0"],
      ["x-app-platform", "ios"],
    ]);
    expect(currentAppHeaders(choice.workload, "android", undefined)).toEqual([
      ["x-app-version", "3.0.0"],
      ["x-app-platform", "android"],
    ]);
  });

  it("asks which policy when the files hold several, and refuses a policy that is not Accepted", () => {
    const two = input([
      policy({ name: "a", created: "2026-01-01T00:00:00Z", spec }),
      policy({ name: "b", created: "2026-01-02T00:00:00Z", spec: { ...spec, targetRefs: [{ kind: "Service", name: "other" }] } }),
    ]);
    expect(() => choosePolicy(two, undefined)).toThrow(/choose one with --policy NS\/NAME/);
    expect(choosePolicy(two, "shop/b").workload.policy?.name).toBe("b");
    expect(() => choosePolicy(input([policy({ name: "bad", created: "2026-01-01T00:00:00Z", spec: { rules: [] } })]), undefined)).toThrow(/not Accepted/);
  });
});
