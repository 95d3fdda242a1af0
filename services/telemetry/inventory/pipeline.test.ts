import { describe, expect, it } from "vitest";
import type { TelemetryEntry } from "../../../contract/telemetry.js";
import { policySpec } from "../../../operator/api/v1alpha1/policy.js";
import { buildRoutes } from "../../../operator/ir/build-routes.js";
import { EndpointTable } from "./endpoint-table.js";
import { inventoryResource } from "./inventory-resource.js";
import { readOpenApi } from "./openapi-document.js";
import { byPolicy, classifyAll, declareWorkloads, openApiSourceName, type InventoryWorkload } from "./pipeline.js";

function workload(namespace: string, name: string, port: number, rules: unknown[], caseSensitive = false): InventoryWorkload {
  const policy = `apisecuritypolicy/${namespace}/${name}`;
  const spec = policySpec.parse({ targetRefs: [{ kind: "Service", name }], rules, backendMatching: { caseSensitive } });
  return { name: `${policy}/ports/${port}-8080`, policy: { namespace, name, generation: 1 }, routes: buildRoutes(policy, spec, [], namespace) };
}

const entry = (w: InventoryWorkload, route: string, path: string): TelemetryEntry => ({
  workload: w.name,
  route: `apisecuritypolicy/${w.policy!.namespace}/${w.policy!.name}/${route}`,
  method: "GET",
  path,
  status: 200,
  authenticated: true,
  clientAddress: "10.0.0.1",
  timeMs: 0,
  latencyMs: 1,
  requestBytes: 0,
  responseBytes: 0,
});

describe("the inventory pipeline", () => {
  it("declares, observes, classifies per workload with its own policy and document, and groups by policy", () => {
    const orders = { name: "orders", match: { pathTemplate: "/v1/orders/{id}", methods: ["GET"] }, authentication: "None" };
    const shop = workload("shop", "api", 15006, [orders]);
    const shopAdmin = workload("shop", "api", 15007, [], true);
    const pay = workload("pay", "gw", 15006, [{ name: "charge", match: { path: "/v1/Charge", methods: ["GET"] }, authentication: "None" }], true);
    const workloads = [shop, shopAdmin, pay];
    const openapi = new Map([["shop/api", readOpenApi("openapi: 3.0.0\npaths:\n  /v1/catalog/{sku}:\n    get: {}\n").endpoints]]);
    const table = new EndpointTable();
    declareWorkloads(table, workloads, openapi);
    table.observe(entry(shop, "rule/orders", "/v1/orders/7"));
    table.observe(entry(shop, "default", "/v1/catalog/abc"));
    table.observe(entry(pay, "default", "/v1/charge"));
    table.observe(entry(workload("gone", "old", 1, []), "default", "/x"));
    const inventories = classifyAll(table.snapshot(), workloads, openapi);
    expect(inventories.map((i) => [i.workload, i.endpoints.map((e) => `${e.path} ${e.class}`)])).toEqual([
      // Case-sensitive policy: /v1/charge is not its /v1/Charge.
      [pay.name, ["/v1/Charge unused", "/v1/charge shadow"]],
      [shop.name, ["/v1/catalog/{sku} documented", "/v1/orders/{id} documented"]],
      // No traffic yet: only the document's endpoint, unused.
      [shopAdmin.name, ["/v1/catalog/{sku} unused"]],
    ]);
    const grouped = byPolicy(inventories);
    expect([...grouped.keys()]).toEqual(["pay/gw", "shop/api"]);
    const resource = inventoryResource(
      grouped.get("shop/api")!,
      { metadata: { name: "api", namespace: "shop" } },
      { updatedAt: "2026-12-03T12:00:00Z", openAPI: { source: openApiSourceName({ configMap: { name: "api-docs", key: "openapi.yaml" } }), errors: [] } },
    );
    expect(resource.status.summary).toMatchObject({ documented: 2, unused: 1 });
    expect(resource.status.openAPI).toEqual({ source: "configmap/api-docs/openapi.yaml" });
  });
});
