import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import type { InventoryEndpoint, WorkloadInventory } from "../../../contract/telemetry.js";
import { inventoryMetrics } from "./metrics.js";

const endpoint = (path: string, cls: InventoryEndpoint["class"], count: number): InventoryEndpoint => ({
  method: "GET",
  path,
  class: cls,
  count,
  statuses: {},
  authenticated: 0,
  appVersions: [],
});
const inventory = (endpoints: InventoryEndpoint[]): WorkloadInventory => ({
  workload: "apisecuritypolicy/shop/api/ports/1-2",
  policy: { namespace: "shop", name: "api" },
  endpoints,
  observed: 0,
  dropped: 0,
});

describe("inventoryMetrics", () => {
  it("exports endpoints per class and counts requests to shadow and zombie endpoints by growth", async () => {
    const registry = new Registry();
    const metrics = inventoryMetrics(registry);
    metrics.record([inventory([endpoint("/a", "documented", 5), endpoint("/b", "shadow", 3), endpoint("/c", "zombie", 2), endpoint("/d", "unused", 0)])]);
    metrics.record([inventory([endpoint("/a", "documented", 9), endpoint("/b", "shadow", 7), endpoint("/c", "zombie", 2), endpoint("/e", "shadow", 1)])]);
    const text = await registry.metrics();
    expect(text).toContain('bulwark_inventory_endpoints{namespace="shop",policy="api",class="documented"} 1');
    expect(text).toContain('bulwark_inventory_endpoints{namespace="shop",policy="api",class="shadow"} 2');
    expect(text).toContain('bulwark_inventory_endpoints{namespace="shop",policy="api",class="unused"} 0');
    // shadow: 3, then +4 on /b and +1 on /e; zombie: 2, then no growth.
    expect(text).toContain('bulwark_inventory_requests_total{namespace="shop",policy="api",class="shadow"} 8');
    expect(text).toContain('bulwark_inventory_requests_total{namespace="shop",policy="api",class="zombie"} 2');
    expect(text).not.toContain('class="documented"} 9');
  });
});
