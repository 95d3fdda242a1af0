import { describe, expect, it } from "vitest";
import type { InventoryEndpoint, WorkloadInventory } from "../../../contract/telemetry.js";
import { inventoryStatus, maxInventoryEndpoints } from "../../../operator/api/v1alpha1/api-inventory.js";
import { inventoryResource } from "./inventory-resource.js";

const policy = { apiVersion: "bulwark.dev/v1alpha1", kind: "APISecurityPolicy", metadata: { name: "api", namespace: "shop", uid: "1234-5678", generation: 3 } };

function endpoint(i: number, cls: InventoryEndpoint["class"]): InventoryEndpoint {
  return {
    method: "GET",
    path: `/v1/e${String(i).padStart(5, "0")}`,
    class: cls,
    count: cls === "unused" ? 0 : i + 1,
    statuses: cls === "unused" ? {} : { "2xx": i + 1 },
    authenticated: 0,
    appVersions: cls === "unused" ? [] : ["1.0.0"],
    ...(cls === "unused" ? {} : { firstSeen: "2026-12-03T10:00:00.000Z", lastSeen: "2026-12-03T11:00:00.000Z" }),
    ...(cls === "documented" ? { declaredBy: "apisecuritypolicy/shop/api/rule/r" } : {}),
  };
}

const workload = (name: string, endpoints: InventoryEndpoint[]): WorkloadInventory => ({
  workload: name,
  policy: { namespace: "shop", name: "api" },
  endpoints,
  observed: 100,
  dropped: 2,
});

describe("inventoryResource", () => {
  it("builds the APIInventory of a policy: its name, namespace and owner, counts and endpoints the CRD schema accepts", () => {
    const obj = inventoryResource(
      [
        workload("apisecuritypolicy/shop/api/ports/2-2", [endpoint(1, "shadow")]),
        workload("apisecuritypolicy/shop/api/ports/1-1", [endpoint(2, "documented"), endpoint(3, "unused")]),
      ],
      policy,
      { updatedAt: "2026-12-03T12:00:00Z", openAPI: { source: "configmap/shop-openapi/openapi.yaml", errors: [] } },
    );
    expect(obj).toMatchObject({
      apiVersion: "bulwark.dev/v1alpha1",
      kind: "APIInventory",
      metadata: { name: "api", namespace: "shop", ownerReferences: [{ kind: "APISecurityPolicy", name: "api", uid: "1234-5678" }] },
      status: {
        summary: { documented: 1, shadow: 1, zombie: 0, unused: 1, observed: 200, dropped: 4, omitted: 0 },
        openAPI: { source: "configmap/shop-openapi/openapi.yaml" },
        policyGeneration: 3,
        updatedAt: "2026-12-03T12:00:00Z",
      },
    });
    expect(obj.status.workloads.map((w) => w.workload)).toEqual(["apisecuritypolicy/shop/api/ports/1-1", "apisecuritypolicy/shop/api/ports/2-2"]);
    expect(obj.status.workloads[0]!.endpoints[1]).toEqual({ method: "GET", path: "/v1/e00003", class: "unused", count: 0, authenticated: 0 });
    expect(inventoryStatus.safeParse(obj.status).error?.issues ?? []).toEqual([]);
  });

  it("keeps shadow and zombie endpoints when a list must be cut, and counts what it left out", () => {
    const many = Array.from({ length: maxInventoryEndpoints + 200 }, (_, i) => endpoint(i, i % 10 === 0 ? "shadow" : i % 10 === 1 ? "zombie" : "documented"));
    const obj = inventoryResource([workload("w", many)], policy, { updatedAt: "2026-12-03T12:00:00Z" });
    const endpoints = obj.status.workloads[0]!.endpoints;
    expect(endpoints).toHaveLength(maxInventoryEndpoints);
    expect(endpoints.filter((e) => e.class === "shadow")).toHaveLength(120);
    expect(endpoints.filter((e) => e.class === "zombie")).toHaveLength(120);
    expect(obj.status.summary).toMatchObject({ shadow: 120, zombie: 120, documented: 960, omitted: 200 });
    expect(endpoints.map((e) => e.path)).toEqual(endpoints.map((e) => e.path).sort());
    expect(inventoryStatus.safeParse(obj.status).success).toBe(true);
  });
});
