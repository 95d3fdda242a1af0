import type { JsonObject } from "../../json.js";
import type { WorkloadIR } from "../../../operator/ir/types.js";
import { TYPE } from "../type-urls.js";
import { httpFilter, type HttpFilterFeature } from "./feature.js";

export const CLAIM_HEADERS_FILTER = "envoy.filters.http.header_mutation";

/** Headers the app reads as verified claims; only jwt_authn may set them. */
function claimHeaders(workload: WorkloadIR): string[] {
  const headers = new Set(workload.jwtProviders.flatMap((p) => p.claimsToHeaders.map((c) => c.header.toLowerCase())));
  return [...headers].sort();
}

/**
 * Removes claim headers a client sent before jwt_authn runs, so that on a route where no token
 * is verified (authentication None or Optional without a token) the app never sees a forged claim.
 */
export function buildClaimHeadersFilter(workload: WorkloadIR): JsonObject | undefined {
  const headers = claimHeaders(workload);
  if (headers.length === 0) return undefined;
  return httpFilter(CLAIM_HEADERS_FILTER, {
    "@type": TYPE.headerMutation,
    mutations: { request_mutations: headers.map((header) => ({ remove: header })) },
  });
}

export const claimHeaderSanitizer: HttpFilterFeature = {
  httpFilters: (ctx) => {
    const filter = buildClaimHeadersFilter(ctx.workload);
    return filter ? [filter] : [];
  },
};
