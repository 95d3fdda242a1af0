import type { JsonObject } from "../../json.js";
import type { RouteIR } from "../../../contract/ir.js";
import { allForwardChecks, forwardChecks } from "../common.js";
import { TypeUrl } from "../../type-urls.js";
import { httpFilter, type HttpFilterFeature } from "./feature.js";

export const BUFFER_FILTER = "envoy.filters.http.buffer";

/** Routes with a size limit buffer the body and answer 413 beyond it; every other route streams. */
export function buildBufferPerRoute(route: RouteIR): JsonObject {
  const max = forwardChecks(route)?.maxRequestBytes;
  if (max === undefined) return { "@type": TypeUrl.bufferPerRoute, disabled: true };
  return { "@type": TypeUrl.bufferPerRoute, buffer: { max_request_bytes: max } };
}

export const buffer: HttpFilterFeature = {
  httpFilters: (ctx) => {
    const limits = allForwardChecks(ctx.workload).flatMap((c) => (c.maxRequestBytes !== undefined ? [c.maxRequestBytes] : []));
    // The filter-level limit is required by the API but every route overrides it.
    return limits.length > 0 ? [httpFilter(BUFFER_FILTER, { "@type": TypeUrl.buffer, max_request_bytes: Math.max(...limits) })] : [];
  },
  perRouteConfig: (route) => ({ [BUFFER_FILTER]: buildBufferPerRoute(route) }),
};
