import { buildIR } from "../ir/build.js";
import type { IR, MeshSettings } from "../ir/types.js";
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
