import type { WorkloadInventory } from "../../../contract/telemetry.js";
import { inventoryStatus } from "../../../operator/api/v1alpha1/api-inventory.js";
type JsonObject = Record<string, unknown>;
import { exportOpenApi } from "./openapi-export.js";

/**
 * The observed API of an APIInventory object (as `kubectl get apiinventory NAME -o json` prints
 * it) as an OpenAPI 3.1 document, or why it cannot be read. Pure: the object is checked against
 * the CRD's own schema before anything is taken from it.
 */
export function openApiOfInventoryObject(object: unknown): { document: JsonObject } | { error: string } {
  if (typeof object !== "object" || object === null) return { error: "not an APIInventory object (a JSON object was expected)" };
  const o = object as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown }; status?: unknown };
  if (o.kind !== "APIInventory") return { error: `not an APIInventory object (kind ${JSON.stringify(o.kind ?? null)})` };
  if (o.status === undefined) return { error: "the APIInventory has no status yet: bulwark telemetry has not written it" };
  const parsed = inventoryStatus.safeParse(o.status);
  if (!parsed.success)
    return { error: `the APIInventory's status does not match its schema: ${parsed.error.issues[0]?.message ?? "invalid"} at ${parsed.error.issues[0]?.path.join(".") ?? ""}` };
  const name = typeof o.metadata?.name === "string" ? o.metadata.name : "api";
  const namespace = typeof o.metadata?.namespace === "string" ? o.metadata.namespace : "default";
  const inventories: WorkloadInventory[] = parsed.data.workloads.map((w) => ({
    workload: w.workload,
    policy: { namespace, name },
    observed: w.observed,
    dropped: w.dropped,
    endpoints: w.endpoints.map((e) => ({ ...e, statuses: e.statuses ?? {}, appVersions: e.appVersions ?? [] })),
  }));
  return { document: exportOpenApi(inventories, { title: `${namespace}/${name} as observed by Bulwark`, version: parsed.data.updatedAt }) };
}
