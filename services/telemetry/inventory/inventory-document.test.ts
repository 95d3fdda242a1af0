import { describe, expect, it } from "vitest";
import type { InventoryEndpoint, WorkloadInventory } from "../../../contract/telemetry.js";
import { openApiOfInventoryObject } from "./inventory-document.js";
import { inventoryResource } from "./inventory-resource.js";
import { exportOpenApi } from "./openapi-export.js";

const policy = { metadata: { name: "shop-api", namespace: "shop", uid: "u-1", generation: 2 } };

function endpoint(method: string, path: string, cls: InventoryEndpoint["class"], count: number): InventoryEndpoint {
  return {
    method,
    path,
    class: cls,
    count,
    statuses: count > 0 ? { "2xx": count } : {},
    authenticated: count,
    appVersions: count > 0 ? ["5.1.0"] : [],
    ...(count > 0 ? { firstSeen: "2026-12-03T10:00:00.000Z", lastSeen: "2026-12-03T11:00:00.000Z" } : {}),
  };
}

const inventories: WorkloadInventory[] = [
  {
    workload: "apisecuritypolicy/shop/shop-api/port/8443",
    policy: { namespace: "shop", name: "shop-api" },
    observed: 60,
    dropped: 0,
    endpoints: [
      endpoint("GET", "/v1/orders/{id}", "documented", 40),
      endpoint("GET", "/internal/debug", "shadow", 15),
      endpoint("GET", "/v0/cart", "zombie", 5),
      endpoint("POST", "/v1/orders", "unused", 0),
    ],
  },
];

describe("the observed API of an APIInventory object, as OpenAPI", () => {
  it("gives what the inventory itself exports: every called endpoint, none unused", () => {
    const object = inventoryResource(inventories, policy, { updatedAt: "2026-12-03T11:00:00.000Z" });
    const result = openApiOfInventoryObject(JSON.parse(JSON.stringify(object)));
    if ("error" in result) throw new Error(result.error);
    expect(result.document).toEqual(exportOpenApi(inventories, { title: "shop/shop-api as observed by Bulwark", version: "2026-12-03T11:00:00.000Z" }));
    expect(Object.keys(result.document.paths as object).sort()).toEqual(["/internal/debug", "/v0/cart", "/v1/orders/{id}"]);
  });

  it("says why it cannot read what it was given", () => {
    expect(openApiOfInventoryObject("x")).toEqual({ error: "not an APIInventory object (a JSON object was expected)" });
    expect(openApiOfInventoryObject({ kind: "Pod" })).toEqual({ error: 'not an APIInventory object (kind "Pod")' });
    expect(openApiOfInventoryObject({ kind: "APIInventory" })).toEqual({ error: "the APIInventory has no status yet: bulwark telemetry has not written it" });
    const bad = openApiOfInventoryObject({ kind: "APIInventory", status: { summary: {}, workloads: "x", updatedAt: "t" } });
    expect("error" in bad && bad.error).toMatch(/^the APIInventory's status does not match its schema: /);
  });
});
