import type { JsonObject } from "../../json.js";
import type { LocalRateLimitIR } from "../../../contract/ir.js";
import { allForwardChecks, durationFromSeconds, forwardChecks, percent } from "../common.js";
import { TypeUrl } from "../../type-urls.js";
import { httpFilter, type HttpFilterFeature } from "./feature.js";

export const LOCAL_RATELIMIT_FILTER = "envoy.filters.http.local_ratelimit";
const STAT_PREFIX = "bulwark_local_ratelimit";

/** A token bucket of this sidecar for one route: `requests` per window, refilled all at once; shadow limits count but never refuse. */
export function buildLocalRateLimitPerRoute(limit: LocalRateLimitIR): JsonObject {
  return {
    "@type": TypeUrl.localRateLimit,
    stat_prefix: STAT_PREFIX,
    token_bucket: { max_tokens: limit.requests, tokens_per_fill: limit.requests, fill_interval: durationFromSeconds(limit.windowSeconds) },
    filter_enabled: { default_value: percent(100) },
    filter_enforced: { default_value: percent(limit.shadow ? 0 : 100) },
    ...(limit.responseHeaders ? { enable_x_ratelimit_headers: "DRAFT_VERSION_03" } : {}),
  };
}

export const localRateLimit: HttpFilterFeature = {
  // The filter-level configuration has no bucket: only routes with their own bucket are limited.
  httpFilters: (ctx) =>
    allForwardChecks(ctx.workload).some((c) => c.localRateLimit) ? [httpFilter(LOCAL_RATELIMIT_FILTER, { "@type": TypeUrl.localRateLimit, stat_prefix: STAT_PREFIX })] : [],
  perRouteConfig: (route): Record<string, JsonObject> => {
    const limit = forwardChecks(route)?.localRateLimit;
    return limit ? { [LOCAL_RATELIMIT_FILTER]: buildLocalRateLimitPerRoute(limit) } : {};
  },
};
