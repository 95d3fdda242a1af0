/**
 * The IR: one plain-data description per protected workload, the contract between operator/
 * (which builds it from Kubernetes objects) and envoy/ (which turns it into Envoy resources),
 * and the source of the authz and ratelimit services' configuration.
 *
 * No Kubernetes or protobuf types here; every value is JSON-serialisable and every name is
 * traceable to its source (`apisecuritypolicy/<ns>/<name>/rule/<rule>`).
 */
import type { IdentityKind, SignalKind } from "./telemetry.js";

/** Settings of the installation, not of any policy: where Bulwark's own services are. */
export interface TranslationSettings {
  /** bulwark authz (ext_authz gRPC). */
  authz: ServiceAddress & { timeoutMs: number };
  /** bulwark ratelimit (RateLimitService gRPC). */
  ratelimit: ServiceAddress & { timeoutMs: number };
  /** Rate-limit domain sent with every descriptor. */
  rateLimitDomain: string;
  /**
   * Mesh identity (the controller's workload CA serves SDS): when set, every sidecar also gets
   * the egress proxy with mTLS to the mesh's Services. Absent: inbound only.
   */
  mesh?: MeshSettings;
  /** Where the client's address comes from when a policy says nothing (`--client-address-*`); absent: the TCP peer. */
  clientAddress?: ClientAddressIR;
  /**
   * bulwark telemetry (AccessLogService gRPC, `--telemetry-address`): where sidecars of policies
   * with spec.telemetry stream their finished requests. Absent: no sidecar streams telemetry.
   */
  telemetry?: TelemetrySettings;
}

/** Where sidecars stream telemetry, and how (`--telemetry-address`, `--telemetry-ca-file`, `--telemetry-server-name`). */
export interface TelemetrySettings extends ServiceAddress {
  /**
   * The receiver's TLS: the CA (PEM) its certificate chains to, and the name it carries (default
   * `host`). Absent: plaintext (a receiver without --cluster, which authenticates nobody).
   */
  tls?: { caPem: string; serverName?: string };
  /**
   * The file in the sidecar of its projected ServiceAccount token of the telemetry audience,
   * presented on every stream (`authorization: Bearer <token>`). Only with `tls`.
   */
  tokenFile?: string;
}

/**
 * Which address is the client's (per-address budgets, clientCIDRs):
 * - `peer`: the TCP peer; X-Forwarded-For is never believed;
 * - `forwardedFor`: the `trustedHops`th entry from the right of X-Forwarded-For (the peer when
 *   there are fewer), believed only from peers in `trustedCIDRs` when they are given;
 * - `header`: the bare IP address in `header` (lowercase), believed only from peers in `trustedCIDRs`.
 * CIDRs are canonical (`203.0.113.0/24`), in the order declared.
 */
export type ClientAddressIR =
  { from: "peer" } | { from: "forwardedFor"; trustedHops: number; trustedCIDRs?: string[] } | { from: "header"; header: string; trustedCIDRs: string[] };

export interface MeshSettings {
  /** SPIFFE trust domain of the workload certificates. */
  trustDomain: string;
  /** The cluster's DNS domain (`<svc>.<ns>.svc.<clusterDomain>`), usually `cluster.local`. */
  clusterDomain: string;
}

export interface ServiceAddress {
  host: string;
  port: number;
}

export interface IR {
  /** Sorted by name. */
  workloads: WorkloadIR[];
  /** The mesh's destinations, when mesh identity is enabled; the same for every sidecar. */
  mesh?: MeshIR;
}

/** What every sidecar's egress proxy can reach: the Services whose pods have sidecars. */
export interface MeshIR {
  trustDomain: string;
  /** Sorted by name. */
  services: MeshServiceIR[];
}

export interface MeshServiceIR {
  /** `outbound/<ns>/<service>`: also the name of its cluster and endpoint set. */
  name: string;
  namespace: string;
  service: string;
  /**
   * Authorities that reach it, sorted: `<svc>.<ns>`, `<svc>.<ns>.svc`, `<svc>.<ns>.svc.<domain>`,
   * each also with `:<port>` per Service port. The bare `<svc>` is added per caller namespace.
   */
  hosts: string[];
  /** The Service's ports (for `<svc>:<port>`). */
  ports: number[];
  /** Sidecars with an IP, at their inbound port, sorted. `tls: false`: that sidecar's listener is plaintext. */
  endpoints: { address: string; port: number; tls: boolean }[];
  /** SPIFFE ids of its pods' service accounts, sorted: the destination's certificate must carry one. */
  identities: string[];
  /** TLS towards its sidecars (absent: all of them listen in plaintext); TLS 1.3 when one of them asks for it. */
  tls?: { minVersion: "TLSv1.2" | "TLSv1.3" };
}

/** Pods with identical sidecar configuration: governed by the same policy, same ports. */
export interface WorkloadIR {
  /** `apisecuritypolicy/<ns>/<name>/port/<inbound>` or `passthrough/<ns>/port/<inbound>` for pods no policy governs. */
  name: string;
  namespace: string;
  /** The governing policy; absent for pass-through workloads. */
  policy?: PolicyRef;
  /** Sidecars (pods) that run this configuration, sorted: `<pod>.<namespace>` = Envoy node id. */
  sidecars: string[];
  listener: ListenerIR;
  /** The application container, reached over loopback. */
  app: { port: number };
  /**
   * The egress proxy on loopback (the app's HTTP_PROXY), when mesh identity is enabled and the pods
   * use one: its scope (`*`, `<ns>/*`, `<ns>/<svc>`) and the mesh Services (names) it reaches.
   */
  outbound?: { port: number; egressTo: string[]; services: string[] };
  /** JWT providers, sorted by name. */
  jwtProviders: JwtProviderIR[];
  /** Routes in match order; the last one is the default action's catch-all. */
  routes: RouteIR[];
  compression?: CompressionIR;
  /** Cross-origin requests from browsers, when the policy allows any. */
  cors?: CorsIR;
  /** Workload-wide app-version gate (enforced by authz on every route that has `authz`). */
  minAppVersion?: MinAppVersionIR;
  /** App attestation settings, when the policy declares them. */
  appAttestation?: AppAttestationIR;
  /** API keys of server-to-server partner clients, for routes whose authz checks have apiKey. */
  apiKeys?: ApiKeysIR;
  /** Sender constraint applied on routes that authenticate. */
  senderConstraint?: SenderConstraintIR;
  /** What the sidecar refuses or normalises before any decision (policy workloads only). */
  requestMeaning?: RequestMeaningIR;
  /** spec.adaptiveResponse: every forward route then has `authz.adaptive`, so bulwark authz sees every request. */
  adaptive?: AdaptiveIR;
  /** The policy's spec.telemetry, when enabled: what the sidecar streams to bulwark telemetry. */
  telemetry?: TelemetryIR;
}

/** Blocks and tighter budgets for identities that abuse signals flag (actions kept in Redis by policy). */
export interface AdaptiveIR {
  /** Lowercase header with the device identifier, when a rule acts on Device identities. */
  deviceHeader?: string;
  /** While the store of actions is unreachable: Allow lets unknown identities through, Deny refuses (503). */
  failureMode: "Allow" | "Deny";
  /** Sorted by signal, then identity; one per pair. */
  rules: AdaptiveRuleIR[];
}

export interface AdaptiveRuleIR {
  signal: SignalKind;
  identity: IdentityKind;
  action: "Block" | "Throttle";
  ttlSeconds: number;
  /** Throttle only. */
  requests?: number;
  windowSeconds?: number;
  mode: "Shadow" | "Enforce";
}

/** The request headers each telemetry entry carries, lower-case (identity beyond the verified subject and the client address). */
export interface TelemetryIR {
  deviceHeader?: string;
  appVersionHeader: string;
  platformHeader: string;
}

// --- request meaning: what Envoy, authz, ratelimit and the app must understand alike ----------

/**
 * How the backend tells paths apart (the policy's `backendMatching`): routes, the ownership
 * check and path-keyed rate limits all compare paths this way, so a request the app treats as
 * the protected route is never matched by a laxer one.
 */
export interface PathMeaningIR {
  /** false: `/v1/USERS` is `/v1/users`. */
  caseSensitive: boolean;
  /** Ignore: `/v1/orders/` is `/v1/orders`. */
  trailingSlash: "Strict" | "Ignore";
}

/** Checks made before any other filter, on every route of the workload. */
export interface RequestMeaningIR {
  /**
   * Lower-case names of headers a decision reads (Host, Authorization, DPoP, the app-version,
   * platform and attestation headers, rate-limit key headers), sorted: refused (400) when sent
   * more than once or with a comma, since Envoy would join the copies into one value.
   */
  singleValueHeaders: string[];
}

export interface PolicyRef {
  namespace: string;
  name: string;
  generation: number;
}

export interface ListenerIR {
  /** Port the sidecar listens on (what the Service's targetPort reaches). */
  port: number;
  tls?: ListenerTlsIR;
  /** The policy's spec.clientAddress; absent: the installation's (TranslationSettings.clientAddress). */
  clientAddress?: ClientAddressIR;
}

export interface ListenerTlsIR {
  minVersion: "TLSv1.2" | "TLSv1.3";
  mtls: "Disabled" | "Permissive" | "Strict";
  /** A public certificate served instead of the workload certificate (mtls is then Disabled). */
  publicCertificate?: PublicCertificateIR;
  /** The Strict-Transport-Security value put on every response (only with a public certificate). */
  strictTransportSecurity?: string;
}

/**
 * A public certificate from a kubernetes.io/tls Secret. Its PEM never enters the IR: the
 * controller delivers it as the SDS secret `sdsName` (so a rotation changes that secret alone).
 * `usable: false` (the Secret is missing or broken): the listener refuses every connection.
 */
export interface PublicCertificateIR {
  /** `public-cert/<namespace>/<secret>` */
  sdsName: string;
  usable: boolean;
}

export type JwksIR =
  | { kind: "remote"; uri: string; cacheSeconds: number; /** Cluster that reaches the JWKS host. */ cluster: UpstreamHostIR }
  /** Keys from a Secret, inlined; a key set nobody can sign for when the Secret is missing or broken, so tokens fail closed. */
  | { kind: "inline"; jwks: string };

/** A host reached by URL (JWKS endpoints). */
export interface UpstreamHostIR {
  /** `jwks/<host>/<port>`, shared by providers that use the same host. */
  name: string;
  host: string;
  port: number;
  tls: boolean;
}

export interface JwtProviderIR {
  /** `apisecuritypolicy/<ns>/<name>/jwt/<provider>` */
  name: string;
  issuer: string;
  audiences: string[];
  jwks: JwksIR;
  /**
   * The provider's maxTokenAge: Envoy refuses tokens whose exp is further away than this; bulwark
   * authz refuses tokens without iat, issued longer ago than this, or with exp - iat longer.
   */
  maxLifetimeSeconds?: number;
  clockSkewSeconds: number;
  claimsToHeaders: { claim: string; header: string }[];
  /** Authorization scheme the token arrives with: DPoP when DPoP is required, else Bearer (both when DPoP is optional). */
  schemes: ("Bearer" | "DPoP")[];
}

export type PathMatchIR = { kind: "exact"; path: string } | { kind: "prefix"; prefix: string } | { kind: "template"; template: string; variables: string[] };

export interface RouteIR {
  /** `apisecuritypolicy/<ns>/<name>/rule/<rule>`, `.../default` for the catch-all, with `/deprecation/<i>` when split for a deprecation window. */
  name: string;
  match: {
    path: PathMatchIR;
    /** Empty: any method. */
    methods: string[];
    /**
     * Also require the request path to start with this prefix (a `:path` header matcher with
     * string_match prefix). Used to split a rule's route where only part of it falls under a
     * deprecation window.
     */
    pathPrefixGuard?: string;
    /** How paths compare; absent: exactly (case and trailing slash count). */
    meaning?: PathMeaningIR;
  };
  action: RouteActionIR;
  /** The rule's `purpose`: what the abuse signals (services/telemetry/signals) treat as logins and payments; no effect on Envoy. */
  purpose?: RoutePurposeIR;
}

export type RoutePurposeIR = "Login" | "Payment";

export type RouteActionIR =
  /** Forward to the app after the checks below. */
  | {
      kind: "forward";
      checks: RouteChecksIR;
      /** Set on every answer, replacing the app's (deprecation headers). */
      responseHeaders: { name: string; value: string }[];
      /** Added only where the app's answer has no such header (caching defaults). */
      defaultResponseHeaders?: { name: string; value: string }[];
      /** caching.notModified: the sidecar answers If-None-Match matching the app's ETag with 304 and no body. */
      notModified?: true;
    }
  /** Answer directly (default Deny: 404; after sunset: 410). */
  | { kind: "respond"; status: number; body: string; responseHeaders: { name: string; value: string }[] };

export interface RouteChecksIR {
  authentication: "Required" | "Optional" | "None";
  /** Scopes and claims checked by Envoy RBAC on the verified payload. */
  require?: { scopes: string[]; claims: { name: string; values: string[] }[] };
  /** Header and claim conditions (rules' `when`), checked by Envoy RBAC; header names lowercase, lists sorted. */
  conditions?: ConditionsIR;
  /** Checks only bulwark authz can make; absent when the route needs none (ext_authz disabled there). */
  authz?: AuthzChecksIR;
  maxRequestBytes?: number;
  /** Client networks allowed and refused (refusal wins), checked before anything else; absent: any client. */
  clientCIDRs?: ClientCidrsIR;
  /** Mesh workloads allowed (by the identity of their certificate), checked before anything else; absent: any caller. */
  callers?: CallerIR[];
  /** The rule's authorizationMode Shadow: require, conditions, callers and ownership are evaluated and reported, not enforced. */
  shadowAuthorization?: true;
  localRateLimit?: LocalRateLimitIR;
  globalRateLimits: GlobalRateLimitIR[];
}

export interface ConditionsIR {
  /** Each must be present with one of its values. */
  headers: { name: string; values: string[] }[];
  /** None may carry one of its values. */
  notHeaders: { name: string; values: string[] }[];
  /** None of the verified token's claims may hold one of its values. */
  notClaims: { name: string; values: string[] }[];
}

/** A mesh workload identity: a ServiceAccount, or (absent) every ServiceAccount of the namespace. */
export interface CallerIR {
  namespace: string;
  serviceAccount?: string;
}

/** Canonical CIDRs in declared order; an empty `allow` allows every network. */
export interface ClientCidrsIR {
  allow: string[];
  deny: string[];
}

export interface AuthzChecksIR {
  dpop: boolean;
  certificateBound: boolean;
  appAttestation: boolean;
  /** `shadow`: a mismatch is reported (x-bulwark-shadow-ownership to the backend, a log line, a metric), not refused. */
  ownership?: { pathParam: string; claim: string; template: string; meaning?: PathMeaningIR; shadow?: true };
  minAppVersion: boolean;
  /**
   * The token's `iat` against the provider's maxTokenAge (age and exp - iat); set when a provider
   * of the policy has one and the route authenticates. Envoy's jwt_authn bounds only exp - now.
   */
  tokenAge?: true;
  /** The rule's own authz timeout (authzTimeoutMs); the settings' timeout when absent. */
  timeoutMs?: number;
  /** authentication APIKey: a key of the workload's apiKeys is needed (the route's JWT mode is then None). */
  apiKey?: true;
  /** The workload's adaptive response (WorkloadIR.adaptive): the request's identities are looked up first. */
  adaptive?: true;
}

/** API keys of partner clients (spec.authentication.apiKeys); only their SHA-256 digests, never the keys. */
export interface ApiKeysIR {
  /** Lowercase header the key arrives in; removed before the app. */
  header: string;
  /** Lowercase header the app receives the client's name in. */
  clientHeader: string;
  /** Sorted by name; empty when the Secret is missing or unusable, so every key is refused. */
  clients: { name: string; sha256: string }[];
}

export interface SenderConstraintIR {
  dpop?: { required: boolean; maxProofAgeSeconds: number; algorithms: string[]; requireNonce: boolean };
  mtls?: { required: boolean };
}

export interface AppAttestationIR {
  header: string;
  issuer: string;
  audiences: string[];
  appIds: string[];
  jwks: JwksIR;
  maxTokenAgeSeconds: number;
  /** Each token accepted once (by `jti`); absent: tokens may be reused within maxTokenAgeSeconds. */
  singleUse?: true;
  /** Verdict claims, sorted by name: each must have (or, an array, contain) one of its values. */
  requiredClaims?: { name: string; values: string[] }[];
}

export interface MinAppVersionIR {
  header: string;
  platformHeader: string;
  minimum: string;
  /** Sorted by platform. */
  platforms: { platform: string; minimum: string }[];
}

export interface CorsIR {
  /** Lowercase origins, sorted; `*.` before the host stands for exactly one DNS label. */
  allowOrigins: string[];
  /** Sorted. */
  allowMethods: string[];
  /** Lowercase, sorted. */
  allowHeaders: string[];
  /** Lowercase, sorted. */
  exposeHeaders: string[];
  /** Absent: browsers use their own default (5 s). */
  maxAgeSeconds?: number;
  allowCredentials: boolean;
}

export interface CompressionIR {
  /** In order of preference. */
  algorithms: ("brotli" | "gzip")[];
  minBytes: number;
}

export interface LocalRateLimitIR {
  /** `apisecuritypolicy/<ns>/<name>/rule/<rule>/ratelimit/<limit>` */
  name: string;
  requests: number;
  windowSeconds: number;
  shadow: boolean;
  responseHeaders: boolean;
}

export type RateLimitKeyPartIR =
  { kind: "clientIP" } | { kind: "header"; header: string } | { kind: "claim"; claim: string } | { kind: "pathParam"; param: string; template: string; meaning?: PathMeaningIR };

export interface GlobalRateLimitIR {
  /** `apisecuritypolicy/<ns>/<name>/rule/<rule>/ratelimit/<limit>`; also the descriptor's first entry. */
  name: string;
  key: RateLimitKeyPartIR[];
  requests: number;
  windowSeconds: number;
  shadow: boolean;
  failureMode: "Allow" | "Deny";
  responseHeaders: boolean;
  /** Only responses with these codes spend the budget; absent: every request does. */
  countedResponseCodes?: number[];
}
