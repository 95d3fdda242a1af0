import type { JsonObject } from "../../json.js";
import type { JwksIR, JwtProviderIR, RouteChecksIR, RouteIR, WorkloadIR } from "../../../contract/ir.js";
import { remoteHostCluster, type UpstreamCluster } from "../clusters.js";
import { allForwardChecks, durationFromSeconds, forwardChecks } from "../common.js";
import { TypeUrl } from "../../type-urls.js";
import { httpFilter, type FilterContext, type HttpFilterFeature } from "./feature.js";
import { JWT_AUTHN_FILTER, JWT_HEADER_KEY, JWT_PAYLOAD_KEY } from "../../../contract/wire.js";

const JWKS_FETCH_TIMEOUT = "5s";

type Authenticating = Exclude<RouteChecksIR["authentication"], "None">;
const REQUIREMENT_NAMES: Record<Authenticating, string> = { Required: "required", Optional: "optional" };

function jwksSource(jwks: JwksIR): JsonObject {
  if (jwks.kind === "inline") return { local_jwks: { inline_string: jwks.jwks } };
  return {
    remote_jwks: {
      http_uri: { uri: jwks.uri, cluster: jwks.cluster.name, timeout: JWKS_FETCH_TIMEOUT },
      cache_duration: durationFromSeconds(jwks.cacheSeconds),
      async_fetch: {},
    },
  };
}

function provider(p: JwtProviderIR): JsonObject {
  return {
    issuer: p.issuer,
    ...(p.audiences.length > 0 ? { audiences: p.audiences } : {}),
    ...jwksSource(p.jwks),
    ...(p.maxLifetimeSeconds !== undefined ? { max_lifetime: durationFromSeconds(p.maxLifetimeSeconds) } : {}),
    clock_skew_seconds: p.clockSkewSeconds,
    forward: true,
    from_headers: p.schemes.map((scheme) => ({ name: "Authorization", value_prefix: `${scheme} ` })),
    payload_in_metadata: JWT_PAYLOAD_KEY,
    header_in_metadata: JWT_HEADER_KEY,
    ...(p.claimsToHeaders.length > 0 ? { claim_to_headers: p.claimsToHeaders.map((c) => ({ header_name: c.header, claim_name: c.claim })) } : {}),
  };
}

/** Required: a valid token from any provider. Optional: the same, or no token at all (an invalid one is still refused). */
function requirement(mode: Authenticating, providers: readonly JwtProviderIR[]): JsonObject {
  const each = providers.map((p) => ({ provider_name: p.name }));
  if (mode === "Optional") return { requires_any: { requirements: [...each, { allow_missing: {} }] } };
  return each.length === 1 && each[0] ? each[0] : { requires_any: { requirements: each } };
}

function authenticatingModes(workload: WorkloadIR): Authenticating[] {
  const modes = new Set(allForwardChecks(workload).map((c) => c.authentication));
  return (["Required", "Optional"] as const).filter((mode) => modes.has(mode));
}

/**
 * The JWT authentication filter: one requirement per authentication mode, selected by name on
 * each route. Present whenever the workload has providers, even if no route authenticates:
 * jwt_authn reserves the `claim_to_headers` headers, removing any value a client sent, on every
 * route (disabled ones included), so the app never sees a forged claim.
 */
export function buildJwtAuthnFilter(workload: WorkloadIR): JsonObject | undefined {
  const modes = authenticatingModes(workload);
  if (modes.length > 0 && workload.jwtProviders.length === 0) throw new Error(`workload ${workload.name}: routes require authentication but it has no JWT providers`);
  if (workload.jwtProviders.length === 0) return undefined;
  const providers: JsonObject = {};
  for (const p of workload.jwtProviders) providers[p.name] = provider(p);
  const requirementMap: JsonObject = {};
  for (const mode of modes) requirementMap[REQUIREMENT_NAMES[mode]] = requirement(mode, workload.jwtProviders);
  return httpFilter(JWT_AUTHN_FILTER, { "@type": TypeUrl.jwtAuthentication, providers, ...(modes.length > 0 ? { requirement_map: requirementMap } : {}) });
}

function jwtPerRoute(route: RouteIR): JsonObject {
  const mode = forwardChecks(route)?.authentication ?? "None";
  if (mode === "None") return { "@type": TypeUrl.jwtPerRoute, disabled: true };
  return { "@type": TypeUrl.jwtPerRoute, requirement_name: REQUIREMENT_NAMES[mode] };
}

/** One cluster per JWKS host, shared by the providers that fetch from it. */
function jwksClusters(ctx: FilterContext): UpstreamCluster[] {
  const hosts = new Map<string, UpstreamCluster>();
  for (const p of ctx.workload.jwtProviders) {
    if (p.jwks.kind === "remote" && !hosts.has(p.jwks.cluster.name)) hosts.set(p.jwks.cluster.name, remoteHostCluster(p.jwks.cluster));
  }
  return [...hosts.values()];
}

export const jwtAuthn: HttpFilterFeature = {
  httpFilters: (ctx) => {
    const filter = buildJwtAuthnFilter(ctx.workload);
    return filter ? [filter] : [];
  },
  perRouteConfig: (route) => ({ [JWT_AUTHN_FILTER]: jwtPerRoute(route) }),
  clusters: jwksClusters,
};
