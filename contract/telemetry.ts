/**
 * The telemetry contract: what every sidecar streams to `bulwark telemetry` about each finished
 * request, and what that service concludes from it (the API inventory, abuse signals, adaptive
 * blocks). The Envoy side (envoy/build/filters/telemetry-log.ts) produces entries, the telemetry
 * service (services/telemetry/) consumes them, the operator shows the conclusions; all three
 * import these types and wire names from here.
 *
 * Plain data only: no Kubernetes or protobuf types.
 */

/** The gRPC access logger's `log_name` prefix; the rest is the workload's IR name. */
export const TELEMETRY_LOG_PREFIX = "bulwark-telemetry/";

/**
 * The audience of the projected ServiceAccount token a sidecar presents on its telemetry stream.
 * Not the xDS audience (bulwark.dev/xds): a receiver that saw xDS tokens could replay them to the
 * controller and be served that pod's configuration and workload keys.
 */
export const TELEMETRY_TOKEN_AUDIENCE = "bulwark.dev/telemetry";

/** Where the injector mounts that token in the proxy container (the kubelet rotates the file). */
export const TelemetryToken = {
  volume: "bulwark-telemetry-token",
  directory: "/var/run/secrets/bulwark.dev/telemetry",
  file: "token",
  expirationSeconds: 600,
} as const;

/**
 * The access log's custom tags that carry the identity headers, whatever each policy names them:
 * the sidecar copies the policy's device, app-version and platform headers into these tags, and
 * the receiver reads them without knowing the policy.
 */
export const TelemetryTag = { device: "device", appVersion: "app_version", platform: "platform" } as const;

/** One finished request, as the sidecar's access log reports it and the receiver decodes it. */
export interface TelemetryEntry {
  /** The workload's IR name (`apisecuritypolicy/<ns>/<name>/port/<n>`), from the log name. */
  workload: string;
  /** The sidecar that reported it: its Envoy node id (`<pod>.<namespace>`), as its stream names it. */
  sidecar?: string;
  /** The Envoy route's name (the IR route name, `.../rule/<rule>` or `.../default`); "" when no route matched. */
  route: string;
  /** Upper-case HTTP method. */
  method: string;
  /** The path as the client sent it, without the query string. */
  path: string;
  /** The response code the client received (0 when the connection ended without one). */
  status: number;
  /**
   * Why Bulwark refused, when it did: the `x-bulwark-reason` of authz's answer, or Envoy's
   * response code details (`jwt_authn_access_denied...`, `rbac_access_denied...`,
   * `request_rate_limited`, `route_not_found`, `direct_response`).
   */
  reason?: string;
  /** Whether a JWT (or API key) was verified for this request. */
  authenticated: boolean;
  /** The verified token's `sub`, when there was one. */
  subject?: string;
  /** The device identifier header's value, when the policy names one and the request carried it. */
  device?: string;
  /** The app-version header's value, when present. */
  appVersion?: string;
  /** The platform header's value, when present. */
  platform?: string;
  /** The client's address as the workload's client-address setting defines it, without port. */
  clientAddress: string;
  /** Start of the request, milliseconds since the epoch. */
  timeMs: number;
  /** Time to the last byte of the response, milliseconds. */
  latencyMs: number;
  requestBytes: number;
  responseBytes: number;
}

/** Somewhere entries go: the inventory and the signal detectors. Called on the receiver's event loop; must not block. */
export type TelemetrySink = (entries: readonly TelemetryEntry[]) => void;

// --- API inventory -----------------------------------------------------------------------------

/**
 * - `documented`: called and declared (by a policy rule or the service's OpenAPI document);
 * - `shadow`: called but not declared (including what the default-deny 404 caught and what a
 *   catch-all rule let through);
 * - `zombie`: deprecated or past its sunset, yet still called;
 * - `unused`: declared, never called.
 */
export type EndpointClass = "documented" | "shadow" | "zombie" | "unused";

/** One endpoint of a workload's API, learned from traffic and/or declared. */
export interface InventoryEndpoint {
  method: string;
  /** A path template: `/v1/orders/{param}`; ids (numbers, UUIDs, opaque tokens) collapse to `{param}`. */
  path: string;
  class: EndpointClass;
  /** Requests seen; 0 for `unused`. */
  count: number;
  /** Count by status class: `2xx`, `3xx`, `4xx`, `5xx` (and `0` for no response). */
  statuses: Record<string, number>;
  /** Requests that carried a verified credential. */
  authenticated: number;
  /** App versions seen calling it, most frequent first (bounded). */
  appVersions: string[];
  /** ISO 8601; absent for `unused`. */
  firstSeen?: string;
  lastSeen?: string;
  /** The declaring rule (IR route name) or `openapi`, when declared. */
  declaredBy?: string;
}

/** The inventory of one workload. */
export interface WorkloadInventory {
  workload: string;
  policy: { namespace: string; name: string };
  /** Sorted by path, then method. */
  endpoints: InventoryEndpoint[];
  /** Entries seen in total, and those whose endpoint could not be kept because the table was full. */
  observed: number;
  dropped: number;
}

// --- abuse signals and adaptive response ---------------------------------------------------------

export type SignalKind = "FailedAuthSpike" | "CredentialStuffing" | "CardTesting" | "Enumeration" | "Scraping" | "ImpossibleTravel" | "ReplayedProof" | "AttestationFailure";

/** Who a signal is about, and who a block applies to. */
export type IdentityKind = "ClientAddress" | "Device" | "Account";

/** One firing of a signal. */
export interface SignalEvent {
  kind: SignalKind;
  /** The workload's IR name. */
  workload: string;
  policy: { namespace: string; name: string };
  /** Absent for workload-wide signals (FailedAuthSpike). */
  identity?: { kind: IdentityKind; value: string };
  /** The measured value that crossed the threshold, and the threshold. */
  value: number;
  threshold: number;
  /** A sentence a human reads: what was seen, over which window. */
  message: string;
  timeMs: number;
}

/** A temporary block or tighter budget for one identity, as stored in Redis and listed by the CLI. */
export interface AdaptiveAction {
  policy: { namespace: string; name: string };
  identity: { kind: IdentityKind; value: string };
  /** `Block`: refused with 403 until expiry; `Throttle`: at most `requests` per `windowSeconds`. */
  action: "Block" | "Throttle";
  requests?: number;
  windowSeconds?: number;
  /** Shadow: recorded and reported, not enforced. */
  mode: "Shadow" | "Enforce";
  signal: SignalKind;
  createdMs: number;
  expiresMs: number;
}
