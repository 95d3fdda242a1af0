/**
 * The inventory's pure stages end to end, for the service that runs them:
 *   IR workloads (+ OpenAPI operations per policy) → declare(table) → table.observe(entries)…
 *   → classifyAll(table.snapshot(), …) → byPolicy → inventoryResource per policy.
 * Each workload is compared with its own routes (its policy's, on its port) and its policy's
 * OpenAPI document.
 */
import type { WorkloadIR } from "../../../contract/ir.js";
import type { WorkloadInventory } from "../../../contract/telemetry.js";
import { compareStrings } from "../../../common/order.js";
import { classifyWorkload } from "./classify.js";
import { declaredByRoutes, declaredTemplates, type DeclaredEndpoint } from "./declared-routes.js";
import type { EndpointTable, ObservedWorkload } from "./endpoint-table.js";

export type InventoryWorkload = Pick<WorkloadIR, "name" | "routes" | "policy">;

/** OpenAPI operations by policy, `<namespace>/<name>`. */
export type OpenApiByPolicy = ReadonlyMap<string, readonly DeclaredEndpoint[]>;

const policyKey = (p: { namespace: string; name: string }): string => `${p.namespace}/${p.name}`;

/** How the workload's routes compare paths (the policy's backendMatching; absent: case-insensitive). */
function caseSensitive(workload: InventoryWorkload): boolean {
  return workload.routes.find((r) => r.match.meaning)?.match.meaning?.caseSensitive ?? false;
}

/** Tells the table what each governed workload declares, so declared templates are counted as such. */
export function declareWorkloads(table: EndpointTable, workloads: readonly InventoryWorkload[], openapi: OpenApiByPolicy): void {
  for (const w of workloads) {
    if (!w.policy) continue;
    const declared = [...declaredByRoutes(w.routes), ...(openapi.get(policyKey(w.policy)) ?? [])];
    table.declare(w.name, declaredTemplates(declared), caseSensitive(w));
  }
}

/**
 * Every governed workload classified against its routes: those with no traffic yet list their
 * declared endpoints as unused; observed workloads no longer in the IR are left out. Sorted by name.
 */
export function classifyAll(observed: readonly ObservedWorkload[], workloads: readonly InventoryWorkload[], openapi: OpenApiByPolicy): WorkloadInventory[] {
  const observedByName = new Map(observed.map((o) => [o.workload, o]));
  return workloads
    .flatMap((w) => (w.policy ? [{ w, policy: { namespace: w.policy.namespace, name: w.policy.name } }] : []))
    .sort((a, b) => compareStrings(a.w.name, b.w.name))
    .map(({ w, policy }) => {
      const o = observedByName.get(w.name) ?? { workload: w.name, policy, endpoints: [], observed: 0, dropped: 0 };
      const operations = openapi.get(policyKey(policy));
      return classifyWorkload({ observed: o, routes: w.routes, caseSensitive: caseSensitive(w), ...(operations ? { openapi: operations } : {}) });
    });
}

/** Inventories grouped by policy (`<namespace>/<name>`), in key order: one APIInventory each. */
export function byPolicy(inventories: readonly WorkloadInventory[]): Map<string, WorkloadInventory[]> {
  const out = new Map<string, WorkloadInventory[]>();
  for (const inv of [...inventories].sort((a, b) => compareStrings(policyKey(a.policy), policyKey(b.policy)) || compareStrings(a.workload, b.workload))) {
    const key = policyKey(inv.policy);
    out.set(key, [...(out.get(key) ?? []), inv]);
  }
  return out;
}

/** Where a policy's spec.apiInventory.openAPI points, as APIInventory's status.openAPI.source says it. */
export function openApiSourceName(source: { configMap?: { name: string; key: string }; url?: string }): string {
  return source.configMap ? `configmap/${source.configMap.name}/${source.configMap.key}` : (source.url ?? "");
}
