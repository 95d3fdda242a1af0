import type { Cors } from "../api/v1alpha1/cors.js";
import { durationSeconds } from "../api/v1alpha1/common.js";
import type { CorsIR } from "../../contract/ir.js";
import { compareStrings } from "../../common/order.js";

function sortedLower(values: readonly string[] | undefined): string[] {
  return [...new Set((values ?? []).map((v) => v.toLowerCase()))].sort(compareStrings);
}

/** The policy's CORS block as the sidecar enforces it: names lowercased, every list sorted. */
export function buildCors(cors: Cors): CorsIR {
  return {
    allowOrigins: sortedLower(cors.allowOrigins),
    allowMethods: [...cors.allowMethods].sort(compareStrings),
    allowHeaders: sortedLower(cors.allowHeaders),
    exposeHeaders: sortedLower(cors.exposeHeaders),
    ...(cors.maxAge !== undefined ? { maxAgeSeconds: durationSeconds(cors.maxAge) } : {}),
    allowCredentials: cors.allowCredentials,
  };
}
