import { describe, expect, it } from "vitest";
import { render } from "../translate/render.js";
import { LOCAL_LABEL, withLocalSidecar } from "./local-sidecar.js";

const policy = {
  apiVersion: "bulwark.dev/v1alpha1",
  kind: "APISecurityPolicy",
  metadata: { name: "orders", namespace: "shop" },
  spec: { targetRefs: [{ kind: "Service", name: "orders" }], rules: [{ name: "health", match: { methods: ["GET"], path: "/health" }, authentication: "None" }] },
};
const local = { namespace: "shop", service: "orders", appPort: 8081, listenPort: 10000 };
const empty = { policies: [policy], services: [], pods: [], secrets: [] };

describe("a local sidecar", () => {
  it("is a pod of the Service the files declare, selected by its selector, so the policy resolves as in the cluster", () => {
    const service = { metadata: { name: "orders", namespace: "shop" }, spec: { selector: { app: "orders" }, ports: [{ port: 80, targetPort: 8080 }] } };
    const result = withLocalSidecar({ ...empty, services: [service] }, local);
    if (!result.ok) throw new Error(result.message);
    expect(result.nodeId).toBe("orders-local.shop");
    expect(result.input.services).toEqual([service]);
    expect(result.input.pods[0]?.metadata.labels).toEqual({ app: "orders" });
    const rendered = render({ ...result.input, now: "2026-12-03T00:00:00Z" });
    expect(rendered.resolution.policies[0]?.targets).toEqual([expect.objectContaining({ sidecars: ["orders-local.shop"] })]);
    expect(rendered.workloads.map((w) => w.sidecars)).toEqual([["orders-local.shop"]]);
  });

  it("comes with a Service of its own when the files hold only the policy", () => {
    const result = withLocalSidecar(empty, local);
    if (!result.ok) throw new Error(result.message);
    expect(result.input.services[0]?.spec?.selector).toEqual({ [LOCAL_LABEL]: "orders" });
    expect(render({ ...result.input, now: "2026-12-03T00:00:00Z" }).workloads).toHaveLength(1);
  });

  it("refuses a Service without a selector and equal ports, saying why", () => {
    const headless = { metadata: { name: "orders", namespace: "shop" }, spec: {} };
    expect(withLocalSidecar({ ...empty, services: [headless] }, local)).toEqual({ ok: false, message: expect.stringContaining("has no selector") as string });
    expect(withLocalSidecar(empty, { ...local, appPort: 10000 })).toEqual({ ok: false, message: expect.stringContaining("both 10000") as string });
  });
});
