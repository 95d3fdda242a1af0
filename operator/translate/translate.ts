import { performance } from "node:perf_hooks";
import { buildIR } from "../ir/build.js";
import { meshService, type MeshServiceBuilder } from "../ir/build-mesh.js";
import { checkMeshDestination } from "../../envoy/snapshot/mesh-destination-check.js";
import type { IR, MeshSettings, WorkloadIR } from "../../contract/ir.js";
import { failTranslation } from "../resolve/conditions.js";
import type { TranslationInput } from "../resolve/objects.js";
import { resolvePolicies, type Resolution } from "../resolve/resolve.js";
import type { ResolveMemo } from "../resolve/resolve-memo.js";

export interface Translation {
  resolution: Resolution;
  ir: IR;
}

/**
 * A destination's IR entry, checked by building and encoding its Envoy resources: a destination
 * whose cluster, endpoints or route cannot be built fails at translation, where only the policies behind it
 * fail (build-mesh.ts); every caller's outbound proxy is built from the destinations that passed.
 */
function checkedMeshService(build: MeshServiceBuilder): MeshServiceBuilder {
  return (service, listeners, settings) => {
    const dependencies = [build, settings.trustDomain, settings.clusterDomain, ...service.pods.map((p) => listeners.get(p.sidecar))];
    const memo = checkedEntries.get(service);
    if (memo && memo.dependencies.length === dependencies.length && memo.dependencies.every((d, i) => Object.is(d, dependencies[i]))) return memo.entry;
    const entry = build(service, listeners, settings);
    if (entry) checkMeshDestination(entry);
    checkedEntries.set(service, { dependencies, entry });
    return entry;
  };
}

/**
 * Checked destination entries by mesh Service object (the same object while its Service and pods
 * are unchanged: resolve-memo.ts) and by what else they read: the builder, the settings and the
 * listeners of its sidecars. The result is the same with or without it.
 */
const checkedEntries = new WeakMap<object, { dependencies: unknown[]; entry: ReturnType<MeshServiceBuilder> }>();

/**
 * Kubernetes objects → resolution (with policy conditions as data) → IR (with the mesh when `mesh`
 * is set). Pure; `memo` (kept by the caller from one translation to the next) only saves work.
 */
export function translate(
  input: TranslationInput,
  mesh?: MeshSettings,
  buildService: MeshServiceBuilder = meshService,
  memo?: ResolveMemo,
  timings?: TranslationTimings,
): Translation {
  const started = performance.now();
  const resolution = resolvePolicies(input, memo);
  const resolved = performance.now();
  const ir = buildIR(resolution, mesh, checkedMeshService(buildService));
  if (timings) {
    timings.resolveMs = resolved - started;
    timings.irMs = performance.now() - resolved;
  }
  return { resolution, ir };
}

/** How long the last translation's stages took, in milliseconds. */
export interface TranslationTimings {
  resolveMs: number;
  irMs: number;
}

/** A workload whose Envoy side could not be built, and why. */
export interface WorkloadFailure {
  workload: WorkloadIR;
  error: unknown;
}

/** What `buildPerWorkload` built, in workload order, and the workloads it could not build. */
export interface BuiltWorkloads<T> {
  built: { workload: WorkloadIR; built: T }[];
  /**
   * Workloads left out whose sidecars keep their last good configuration. A policy's failure is
   * also in its status (TranslationFailed); a pass-through workload (no policy) has no status,
   * so its failure is only here, for the caller to log and to hold its sidecars.
   */
  failed: WorkloadFailure[];
}

/**
 * Builds each workload's Envoy side with `build`; a workload whose build throws fails its policy
 * alone (Accepted=False, TranslationFailed, its sidecars held at their last good configuration)
 * and every workload of that policy is left out. A pass-through workload whose build throws is
 * left out alone: nothing else stops, and its sidecars keep their last good configuration.
 */
export function buildPerWorkload<T>(translation: Translation, build: (workload: WorkloadIR) => T): BuiltWorkloads<T> {
  const built: { workload: WorkloadIR; built: T }[] = [];
  const failed: WorkloadFailure[] = [];
  const failedPolicies = new Set<string>();
  for (const workload of translation.ir.workloads) {
    try {
      built.push({ workload, built: build(workload) });
    } catch (error) {
      failed.push({ workload, error });
      const owner = workload.policy ? policyOf(translation.resolution, workload.policy) : undefined;
      if (!owner) continue;
      failTranslation(owner, `building the Envoy resources of workload ${workload.name}`, error);
      failedPolicies.add(`${owner.namespace}/${owner.name}`);
    }
  }
  if (failedPolicies.size === 0) return { built, failed };
  const ofFailedPolicy = (workload: WorkloadIR): boolean => workload.policy !== undefined && failedPolicies.has(`${workload.policy.namespace}/${workload.policy.name}`);
  for (const entry of built) if (ofFailedPolicy(entry.workload)) failed.push({ workload: entry.workload, error: new Error("another workload of its policy could not be built") });
  return { built: built.filter(({ workload }) => !ofFailedPolicy(workload)), failed };
}

/** The resolved policy a workload belongs to. */
export function policyOf(resolution: Resolution, ref: { namespace: string; name: string }): Resolution["policies"][number] | undefined {
  return resolution.policies.find((p) => p.namespace === ref.namespace && p.name === ref.name);
}
