/**
 * The APIInventory object of one policy, from its workloads' inventories: what the telemetry
 * service creates (then writes the status of) with the policy's name and namespace. Pure: the
 * time is an argument. Bounded to what one Kubernetes object can hold: at most
 * maxInventoryWorkloads workloads and maxInventoryEndpoints endpoints each — shadow and
 * zombie endpoints are kept first when a list must be cut, and what is left out is counted in
 * summary.omitted. The summary counts every endpoint, kept or not.
 */
import type { EndpointClass, InventoryEndpoint, WorkloadInventory } from "../../../contract/telemetry.js";
import { compareStrings } from "../../../common/order.js";
import { inventoryKind, maxInventoryEndpoints, maxInventoryWorkloads, type APIInventoryEndpoint, type APIInventoryStatus } from "../../../operator/api/v1alpha1/api-inventory.js";
import { apiVersion } from "../../../operator/api/v1alpha1/policy.js";
import { classCounts } from "./classify.js";

export interface InventoryPolicyRef {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; uid?: string; generation?: number };
}

export interface InventoryResourceOptions {
  /** RFC 3339: when the inventory was computed. */
  updatedAt: string;
  /** The OpenAPI document compared with, and what could not be read from it. */
  openAPI?: { source: string; errors: string[] };
}

export interface APIInventoryObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; labels: Record<string, string>; ownerReferences?: Record<string, unknown>[] };
  status: APIInventoryStatus;
}

/** Which endpoints stay when a list is cut: what needs attention first. */
const keepOrder: Record<EndpointClass, number> = { shadow: 0, zombie: 1, documented: 2, unused: 3 };

function kept(endpoints: readonly InventoryEndpoint[]): InventoryEndpoint[] {
  const byPath = (a: InventoryEndpoint, b: InventoryEndpoint): number => compareStrings(a.path, b.path) || compareStrings(a.method, b.method);
  if (endpoints.length <= maxInventoryEndpoints) return [...endpoints].sort(byPath);
  return [...endpoints]
    .sort((a, b) => keepOrder[a.class] - keepOrder[b.class] || b.count - a.count || byPath(a, b))
    .slice(0, maxInventoryEndpoints)
    .sort(byPath);
}

/** An endpoint as the CRD stores it: empty lists and maps left out. */
function stored(e: InventoryEndpoint): APIInventoryEndpoint {
  const { statuses, appVersions, ...rest } = e;
  return { ...rest, ...(Object.keys(statuses).length > 0 ? { statuses } : {}), ...(appVersions.length > 0 ? { appVersions } : {}) };
}

export function inventoryResource(inventories: readonly WorkloadInventory[], policy: InventoryPolicyRef, options: InventoryResourceOptions): APIInventoryObject {
  const namespace = policy.metadata.namespace ?? "default";
  const sorted = [...inventories].sort((a, b) => compareStrings(a.workload, b.workload));
  const workloads = sorted
    .slice(0, maxInventoryWorkloads)
    .map((w) => ({ workload: w.workload, observed: w.observed, dropped: w.dropped, endpoints: kept(w.endpoints).map(stored) }));
  const keptEndpoints = workloads.reduce((n, w) => n + w.endpoints.length, 0);
  const allEndpoints = sorted.reduce((n, w) => n + w.endpoints.length, 0);
  const counts = classCounts(sorted);
  const status: APIInventoryStatus = {
    summary: {
      ...counts,
      observed: sorted.reduce((n, w) => n + w.observed, 0),
      dropped: sorted.reduce((n, w) => n + w.dropped, 0),
      omitted: allEndpoints - keptEndpoints,
    },
    workloads,
    ...(options.openAPI ? { openAPI: { source: options.openAPI.source, ...(options.openAPI.errors.length > 0 ? { errors: options.openAPI.errors.slice(0, 8) } : {}) } } : {}),
    ...(policy.metadata.generation !== undefined ? { policyGeneration: policy.metadata.generation } : {}),
    updatedAt: options.updatedAt,
  };
  const owner = policy.metadata.uid
    ? { ownerReferences: [{ apiVersion: policy.apiVersion ?? apiVersion, kind: policy.kind ?? "APISecurityPolicy", name: policy.metadata.name, uid: policy.metadata.uid }] }
    : {};
  return {
    apiVersion,
    kind: inventoryKind,
    metadata: { name: policy.metadata.name, namespace, labels: { "app.kubernetes.io/managed-by": "bulwark" }, ...owner },
    status,
  };
}
