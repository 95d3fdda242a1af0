import type { JsonObject } from "../../json.js";
import type { GlobalRateLimitIR, WorkloadIR } from "../../../contract/ir.js";
import { allForwardChecks } from "../common.js";
import { NAMES } from "../resources.js";
import { OUTCOME_LOG_NAME } from "../../../contract/wire.js";

/**
 * Outcome-aware budgets (a limit's `countedResponseCodes`): how a response's status reaches
 * bulwark ratelimit's counter.
 *
 * The Envoy API here has no rate-limit action applied at stream completion, so the sidecar's
 * connection manager streams finished requests to bulwark ratelimit over gRPC
 * (`envoy.access_loggers.http_grpc` → AccessLogService/StreamAccessLogs, on the same cluster as
 * RateLimitService). Only responses whose code some counted limit lists are sent; each entry
 * carries the route name, the response code and every input of the descriptor: the downstream
 * address (what `remote_address` used), the key headers, the path (for path parameters) and the
 * dynamic metadata (the verified JWT payload, for claims). The service spends the budget under
 * the same key the route's descriptor has; ShouldRateLimit only checks such a budget and refuses
 * once it is spent. Entries are flushed one by one, so a count lags its response by one
 * round trip to the service.
 */

const HTTP_GRPC_ACCESS_LOG = "type.googleapis.com/envoy.extensions.access_loggers.grpc.v3.HttpGrpcAccessLogConfig";

function countedLimits(workload: WorkloadIR): GlobalRateLimitIR[] {
  return allForwardChecks(workload)
    .flatMap((c) => c.globalRateLimits)
    .filter((l) => l.countedResponseCodes !== undefined);
}

function statusIs(code: number): JsonObject {
  return { status_code_filter: { comparison: { op: "EQ", value: { default_value: code, runtime_key: `bulwark.outcome_log.status_${code}` } } } };
}

/** The connection manager's `access_log` entries: one gRPC logger when the workload has outcome-aware budgets. */
export function buildOutcomeAccessLog(workload: WorkloadIR): JsonObject[] {
  const limits = countedLimits(workload);
  if (limits.length === 0) return [];
  const codes = [...new Set(limits.flatMap((l) => l.countedResponseCodes ?? []))].sort((a, b) => a - b);
  const headers = [...new Set(limits.flatMap((l) => l.key.flatMap((k) => (k.kind === "header" ? [k.header] : []))))].sort();
  const filter = codes.length === 1 ? statusIs(codes[0] ?? 0) : { or_filter: { filters: codes.map(statusIs) } };
  return [
    {
      name: "envoy.access_loggers.http_grpc",
      filter,
      typed_config: {
        "@type": HTTP_GRPC_ACCESS_LOG,
        common_config: {
          log_name: OUTCOME_LOG_NAME,
          grpc_service: { envoy_grpc: { cluster_name: NAMES.ratelimitCluster } },
          transport_api_version: "V3",
          // Send every entry at once: a budget must be spent before the client's next attempt.
          buffer_size_bytes: 0,
          buffer_flush_interval: "0.100s",
        },
        ...(headers.length > 0 ? { additional_request_headers_to_log: headers } : {}),
      },
    },
  ];
}
