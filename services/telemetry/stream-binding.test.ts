import { describe, expect, it } from "vitest";
import { bindStream, namespaceOfLogName } from "./stream-binding.js";

const pod = { namespace: "shop", serviceAccount: "shop-api", pod: "shop-1" };
const log = (workload: string): string => `bulwark-telemetry/${workload}`;

describe("namespaceOfLogName: the namespace of the policy workload a telemetry log names", () => {
  it.each([
    [log("apisecuritypolicy/shop/shop-api/ports/15006-8080"), "shop"],
    [log("apisecuritypolicy/a/p.v2/ports/15006-8080-15001/egress/x+y"), "a"],
  ])("%s → %s", (name, namespace) => expect(namespaceOfLogName(name)).toBe(namespace));

  it.each([
    [undefined],
    [""],
    ["apisecuritypolicy/shop/shop-api/ports/15006-8080"],
    [log("")],
    [log("passthrough/shop/ports/15006-8080")],
    [log("apisecuritypolicy/Shop/shop-api/ports/15006-8080")],
    [log("apisecuritypolicy/shop/shop-api")],
    [log("apisecuritypolicy//shop-api/ports/1-2")],
    [log("apisecuritypolicy/shop/../ports/1-2")],
    [log("apisecuritypolicy/shop/shop-api/rule/x")],
    [log("apisecuritypolicy/shop/shop-api/ports/")],
    [log(`apisecuritypolicy/${"a".repeat(64)}/p/ports/1-2`)],
    [log("apisecuritypolicy/shop\n/p/ports/1-2")],
    [log("APISECURITYPOLICY/shop/p/ports/1-2")],
    [`bulwark-telemetry//apisecuritypolicy/shop/p/ports/1-2`],
  ])("refuses %j", (name) => expect(namespaceOfLogName(name)).toBeUndefined());
});

describe("bindStream: an authenticated stream reports only as its pod, about its namespace", () => {
  it("binds the pod's own node id and a workload of its namespace", () => {
    expect(bindStream(pod, { nodeId: "shop-1.shop", logName: log("apisecuritypolicy/shop/shop-api/ports/15006-8080") })).toEqual({ ok: true });
    // Any policy of the namespace: the namespace is the boundary (whoever may run pods there may label them into any policy).
    expect(bindStream(pod, { nodeId: "shop-1.shop", logName: log("apisecuritypolicy/shop/other/ports/15006-8080") })).toEqual({ ok: true });
  });

  it.each([
    [undefined, "node_mismatch"],
    ["", "node_mismatch"],
    ["shop-2.shop", "node_mismatch"],
    ["shop-1.bank", "node_mismatch"],
    ["shop-1", "node_mismatch"],
    ["shop-1.shop ", "node_mismatch"],
  ])("refuses node id %j (%s)", (nodeId, reason) => {
    const binding = bindStream(pod, { nodeId, logName: log("apisecuritypolicy/shop/shop-api/ports/15006-8080") });
    expect(binding).toMatchObject({ ok: false, reason });
  });

  it.each([
    [log("apisecuritypolicy/bank/bank-api/ports/15006-8080"), /namespace bank/],
    [log("apisecuritypolicy/shopx/shop-api/ports/15006-8080"), /namespace shopx/],
    [log("passthrough/shop/ports/15006-8080"), /does not name a policy workload/],
    [undefined, /does not name a policy workload/],
    ["access-log", /does not name a policy workload/],
  ])("refuses log name %j", (logName, message) => {
    const binding = bindStream(pod, { nodeId: "shop-1.shop", logName });
    expect(binding).toMatchObject({ ok: false, reason: "namespace_mismatch" });
    expect(binding.ok ? "" : binding.message).toMatch(message);
  });

  it("shows what a stream claimed cut and printable", () => {
    const binding = bindStream(pod, { nodeId: `x\u0000${"y".repeat(500)}`, logName: undefined });
    expect(binding.ok ? "" : binding.message).toMatch(/"x\?y{78}\.\.\."/);
  });
});
