import type { JsonObject } from "../../json.js";
import type { GlobalRateLimitIR, RateLimitKeyPartIR, TranslationSettings, WorkloadIR } from "../../../contract/ir.js";
import { grpcServiceCluster } from "../clusters.js";
import { allForwardChecks, durationFromMs, forwardChecks } from "../common.js";
import { NAMES } from "../resources.js";
import { TypeUrl } from "../../type-urls.js";
import { httpFilter, type HttpFilterFeature } from "./feature.js";
import { descriptorKey, JWT_AUTHN_FILTER, JWT_PAYLOAD_KEY, LIMIT_DESCRIPTOR_KEY } from "../../../contract/wire.js";

type FailureMode = GlobalRateLimitIR["failureMode"];

/**
 * One ratelimit filter per failure mode, each on its own stage: a route's limit is sent by the
 * filter whose behaviour when bulwark ratelimit cannot answer is the limit's failure mode.
 */
const STAGES: Record<FailureMode, { name: string; stage: number; failureModeDeny: boolean; statPrefix: string }> = {
  Allow: { name: "envoy.filters.http.ratelimit.allow_on_failure", stage: 0, failureModeDeny: false, statPrefix: "allow_on_failure" },
  Deny: { name: "envoy.filters.http.ratelimit.deny_on_failure", stage: 1, failureModeDeny: true, statPrefix: "deny_on_failure" },
};

function globalLimits(workload: WorkloadIR): GlobalRateLimitIR[] {
  return allForwardChecks(workload).flatMap((c) => c.globalRateLimits);
}

export function buildRateLimitFilter(mode: FailureMode, options: { settings: TranslationSettings }): JsonObject {
  const stage = STAGES[mode];
  return httpFilter(stage.name, {
    "@type": TypeUrl.rateLimit,
    domain: options.settings.rateLimitDomain,
    stage: stage.stage,
    failure_mode_deny: stage.failureModeDeny,
    timeout: durationFromMs(options.settings.ratelimit.timeoutMs),
    stat_prefix: stage.statPrefix,
    rate_limit_service: { grpc_service: { envoy_grpc: { cluster_name: NAMES.ratelimitCluster } }, transport_api_version: "V3" },
    // Retry headers (RateLimit, RateLimit-Policy, Retry-After) come from bulwark ratelimit's
    // response_headers_to_add, per limit; Envoy's own X-RateLimit-* switch is per filter and would
    // need the limit in every status, revealing thresholds of limits that hide them.
  });
}

function keyAction(part: RateLimitKeyPartIR): JsonObject {
  switch (part.kind) {
    case "clientIP":
      return { remote_address: {} };
    case "header":
      return { request_headers: { header_name: part.header, descriptor_key: descriptorKey(part), skip_if_absent: true } };
    case "claim":
      return {
        metadata: {
          descriptor_key: descriptorKey(part),
          metadata_key: { key: JWT_AUTHN_FILTER, path: [{ key: JWT_PAYLOAD_KEY }, { key: part.claim }] },
          source: "DYNAMIC",
          skip_if_absent: true,
        },
      };
    case "pathParam":
      // The service extracts the parameter from the path with the template.
      return { request_headers: { header_name: ":path", descriptor_key: descriptorKey(part) } };
  }
}

/** The route's descriptor for one limit: the limit's name, then each part of its key. */
export function buildRateLimitDescriptor(limit: GlobalRateLimitIR): JsonObject {
  return {
    stage: STAGES[limit.failureMode].stage,
    actions: [{ generic_key: { descriptor_key: LIMIT_DESCRIPTOR_KEY, descriptor_value: limit.name } }, ...limit.key.map(keyAction)],
  };
}

export const globalRateLimit: HttpFilterFeature = {
  httpFilters: (ctx) => {
    const limits = globalLimits(ctx.workload);
    return (["Allow", "Deny"] as const).filter((mode) => limits.some((l) => l.failureMode === mode)).map((mode) => buildRateLimitFilter(mode, { settings: ctx.settings }));
  },
  routeAction: (route): JsonObject => {
    const limits = forwardChecks(route)?.globalRateLimits ?? [];
    return limits.length > 0 ? { rate_limits: limits.map(buildRateLimitDescriptor) } : {};
  },
  clusters: (ctx) => [grpcServiceCluster(NAMES.ratelimitCluster, ctx.settings.ratelimit)],
};
