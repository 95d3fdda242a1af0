import { hashHex } from "../../envoy/snapshot/snapshot.js";
import type { MeshIR, WorkloadIR } from "../../contract/ir.js";

/**
 * The part of a workload's snapshot memo key that stands for the mesh: a hash of the mesh Services
 * its egress proxy reaches (empty without one). An endpoint change of a Service rebuilds only the
 * snapshots of the sidecars that route to it. One hash per distinct scope per translation.
 */
export function meshScopeKeys(mesh: MeshIR | undefined): (workload: WorkloadIR) => string {
  const byScope = new Map<string, string>();
  const byName = new Map((mesh?.services ?? []).map((s) => [s.name, s]));
  return (workload) => {
    const services = workload.outbound?.services;
    if (!mesh || !services) return "";
    const scope = services.join(",");
    let key = byScope.get(scope);
    if (key === undefined) {
      key = hashHex(JSON.stringify([mesh.trustDomain, services.map((name) => byName.get(name))]));
      byScope.set(scope, key);
    }
    return key;
  };
}
