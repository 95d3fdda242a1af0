/**
 * The API inventory's Prometheus metrics, for the service that runs it to register:
 * - `bulwark_inventory_endpoints{namespace, policy, class}` (gauge): endpoints per class, read
 *   from the latest classification at scrape time;
 * - `bulwark_inventory_requests_total{namespace, policy, class}` (counter, class shadow or
 *   zombie): requests to shadow and zombie endpoints, advanced by each classification by what
 *   the endpoints' counts grew since the previous one — alert on its rate.
 * Labels are bounded: one set per policy (the endpoint table caps workloads) and class.
 */
import { Counter, Gauge, type Registry } from "prom-client";
import type { EndpointClass, WorkloadInventory } from "../../../contract/telemetry.js";

const classes: EndpointClass[] = ["documented", "shadow", "zombie", "unused"];

export interface InventoryMetrics {
  /** Call with every new classification (all workloads): updates the gauge's source and advances the counter. */
  record(inventories: readonly WorkloadInventory[]): void;
}

export function inventoryMetrics(registry: Registry): InventoryMetrics {
  let latest: readonly WorkloadInventory[] = [];
  /** Requests already counted, per workload endpoint: the counter advances by growth only. */
  let counted = new Map<string, number>();
  new Gauge({
    name: "bulwark_inventory_endpoints",
    help: "Endpoints of each policy's API inventory by class: documented, shadow (called, not declared), zombie (deprecated or retired, still called), unused (declared, never called).",
    labelNames: ["namespace", "policy", "class"],
    registers: [registry],
    collect(): void {
      this.reset();
      const totals = new Map<string, { namespace: string; policy: string; counts: Record<EndpointClass, number> }>();
      for (const inv of latest) {
        const key = `${inv.policy.namespace}/${inv.policy.name}`;
        const entry = totals.get(key) ?? { namespace: inv.policy.namespace, policy: inv.policy.name, counts: { documented: 0, shadow: 0, zombie: 0, unused: 0 } };
        totals.set(key, entry);
        for (const e of inv.endpoints) entry.counts[e.class]++;
      }
      for (const { namespace, policy, counts } of totals.values()) for (const cls of classes) this.set({ namespace, policy, class: cls }, counts[cls]);
    },
  });
  const requests = new Counter({
    name: "bulwark_inventory_requests_total",
    help: "Requests to shadow and zombie endpoints, by policy and class, as the inventory classified them.",
    labelNames: ["namespace", "policy", "class"],
    registers: [registry],
  });
  return {
    record(inventories): void {
      latest = inventories;
      const next = new Map<string, number>();
      for (const inv of inventories) {
        for (const e of inv.endpoints) {
          const key = `${inv.workload} ${e.method} ${e.path}`;
          next.set(key, e.count);
          const grown = e.count - (counted.get(key) ?? 0);
          if ((e.class === "shadow" || e.class === "zombie") && grown > 0) requests.inc({ namespace: inv.policy.namespace, policy: inv.policy.name, class: e.class }, grown);
        }
      }
      counted = next;
    },
  };
}
