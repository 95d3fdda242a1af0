import { buildIR } from "../ir/build.js";
import type { IR } from "../ir/types.js";
import type { TranslationInput } from "../resolve/objects.js";
import { resolvePolicies, type Resolution } from "../resolve/resolve.js";

export interface Translation {
  resolution: Resolution;
  ir: IR;
}

/** Kubernetes objects → resolution (with policy conditions as data) → IR. Pure. */
export function translate(input: TranslationInput): Translation {
  const resolution = resolvePolicies(input);
  return { resolution, ir: buildIR(resolution) };
}
