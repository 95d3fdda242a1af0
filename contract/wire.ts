/**
 * Wire constants: names that the sidecar's configuration (envoy/build) writes and that Bulwark's
 * services (services/authz, services/ratelimit) read back from what Envoy sends them. Each is
 * written here once; both sides import it, so they cannot drift apart.
 */
import type { RateLimitKeyPartIR } from "./ir.js";

/** The ext_authz context extension that names the route whose checks apply (its IR name). */
export const ROUTE_CONTEXT_KEY = "bulwark.dev/route";

/** The response header that names why Bulwark refused a request (sidecar filters and authz alike). */
export const REASON_HEADER = "x-bulwark-reason";

/**
 * Dry-run authorization (a rule's authorizationMode Shadow): the request headers the backend
 * receives with `allowed` or `denied`, one per kind of check, set by the sidecar (RBAC's shadow
 * result) or by bulwark authz (ownership); a client's own copy is replaced.
 */
export const ShadowHeader = {
  authorization: "x-bulwark-shadow-authorization",
  callers: "x-bulwark-shadow-callers",
  ownership: "x-bulwark-shadow-ownership",
  /** Adaptive response in Shadow mode: `denied` when the identity is blocked or over its throttle (set by bulwark authz). */
  adaptive: "x-bulwark-shadow-adaptive",
} as const;

/**
 * The client's address as the sidecar decided it (spec.clientAddress: X-Forwarded-For from trusted
 * hops, a trusted header, or the TCP peer), `ip:port`: dynamic metadata the sidecar writes for
 * bulwark authz, whose CheckRequest source is always the TCP peer. Written where authz needs it
 * (adaptive response), under this namespace and key.
 */
export const CLIENT_ADDRESS_METADATA = "bulwark.client_address";
export const CLIENT_ADDRESS_KEY = "address";

/** Envoy's JWT filter: the namespace of its dynamic metadata, read by rbac, ext_authz and the rate-limit outcome log. */
export const JWT_AUTHN_FILTER = "envoy.filters.http.jwt_authn";
/** Key of the verified payload in that metadata. */
export const JWT_PAYLOAD_KEY = "jwt_payload";
/** Key of the verified token's protected header in the same metadata (rbac refuses unknown `crit` from it). */
export const JWT_HEADER_KEY = "jwt_header";

/** The first entry of every rate-limit descriptor: its value is the limit's IR name. */
export const LIMIT_DESCRIPTOR_KEY = "limit";

/** The descriptor entry key Envoy sends for one part of a limit's key. */
export function descriptorKey(part: RateLimitKeyPartIR): string {
  switch (part.kind) {
    case "clientIP":
      return "remote_address";
    case "header":
      return `header:${part.header}`;
    case "claim":
      return `claim:${part.claim}`;
    case "pathParam":
      return `pathParam:${part.param}`;
  }
}

/** The access-log name under which sidecars stream finished requests to bulwark ratelimit (outcome-aware budgets). */
/** The gRPC method sidecars' access loggers call (AccessLogService): the outcome stream to bulwark ratelimit, the telemetry stream to bulwark telemetry. */
export const STREAM_ACCESS_LOGS_PATH = "/envoy.service.accesslog.v3.AccessLogService/StreamAccessLogs";
export const OUTCOME_LOG_NAME = "bulwark-outcomes";

/**
 * The Envoy node id of a pod's sidecar, `<pod>.<namespace>`: the injector writes it into the
 * bootstrap (from the downward API), the xDS server checks a stream's token against it, and the
 * controller keys snapshots and status by it.
 */
export function sidecarNodeIdOf(pod: string, namespace: string): string {
  return `${pod}.${namespace}`;
}
