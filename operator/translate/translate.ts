import { buildIR } from "../ir/build.js";
import type { IR, MeshSettings, WorkloadIR } from "../../contract/ir.js";
import { failTranslation } from "../resolve/conditions.js";
import type { TranslationInput } from "../resolve/objects.js";
import { resolvePolicies, type Resolution } from "../resolve/resolve.js";

export interface Translation {
  resolution: Resolution;
  ir: IR;
}

/** Kubernetes objects → resolution (with policy conditions as data) → IR (with the mesh when `mesh` is set). Pure. */
export function translate(input: TranslationInput, mesh?: MeshSettings): Translation {
  const resolution = resolvePolicies(input);
  return { resolution, ir: buildIR(resolution, mesh) };
}

/**
 * Builds each workload's Envoy side with `build`; a workload whose build throws fails its policy
 * alone (Accepted=False, TranslationFailed, its sidecars held at their last good configuration)
 * and every workload of that policy is left out. Returns what was built, in workload order.
 */
export function buildPerWorkload<T>(translation: Translation, build: (workload: WorkloadIR) => T): { workload: WorkloadIR; built: T }[] {
  const built: { workload: WorkloadIR; built: T }[] = [];
  const failed = new Set<string>();
  for (const workload of translation.ir.workloads) {
    try {
      built.push({ workload, built: build(workload) });
    } catch (error) {
      // A pass-through workload has no policy: its error is a bug of Bulwark, not of a user's policy.
      if (!workload.policy) throw error;
      const owner = policyOf(translation.resolution, workload.policy);
      if (!owner) throw error;
      failTranslation(owner, `building the Envoy resources of workload ${workload.name}`, error);
      failed.add(`${owner.namespace}/${owner.name}`);
    }
  }
  return built.filter(({ workload }) => !workload.policy || !failed.has(`${workload.policy.namespace}/${workload.policy.name}`));
}

/** The resolved policy a workload belongs to. */
export function policyOf(resolution: Resolution, ref: { namespace: string; name: string }): Resolution["policies"][number] | undefined {
  return resolution.policies.find((p) => p.namespace === ref.namespace && p.name === ref.name);
}
