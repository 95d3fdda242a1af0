import type { JsonObject } from "../../json.js";
import type { CorsIR } from "../../../contract/ir.js";
import { escapeRegex } from "../common.js";
import { appCluster } from "../clusters.js";
import { NAMES } from "../resources.js";
import { TypeUrl } from "../../type-urls.js";
import { httpFilter, type HttpFilterFeature } from "./feature.js";

export const CORS_FILTER = "envoy.filters.http.cors";

/** An allowed origin as Envoy matches the Origin header: exact, or `*.` as exactly one DNS label (letters, digits, '-'). */
function originMatcher(origin: string): JsonObject {
  if (!origin.includes("*")) return { exact: origin, ignore_case: true };
  const [scheme, rest] = origin.split("://*.");
  // Lowercase as browsers serialise origins, and short: RE2 refuses programs over 100 instructions (the schema bounds the length).
  return { safe_regex: { regex: `^${escapeRegex(scheme ?? "")}://[a-z0-9-]+\\.${escapeRegex(rest ?? "")}$` } };
}

/**
 * The CORS policy of every route. Preflights from other origins are not forwarded: the sidecar
 * answers them itself without CORS headers (so the browser refuses), and no preflight reaches
 * the app or a token check.
 */
export function buildCorsPolicy(cors: CorsIR): JsonObject {
  return {
    "@type": TypeUrl.corsPolicy,
    allow_origin_string_match: cors.allowOrigins.map(originMatcher),
    allow_methods: cors.allowMethods.join(","),
    ...(cors.allowHeaders.length > 0 ? { allow_headers: cors.allowHeaders.join(",") } : {}),
    ...(cors.exposeHeaders.length > 0 ? { expose_headers: cors.exposeHeaders.join(",") } : {}),
    ...(cors.maxAgeSeconds !== undefined ? { max_age: String(cors.maxAgeSeconds) } : {}),
    allow_credentials: cors.allowCredentials,
    forward_not_matching_preflights: false,
  };
}

/** Not empty: the CORS filter takes a preflight only when Origin and Access-Control-Request-Method have a value. */
const NOT_EMPTY = { safe_regex: { regex: ".+" } };

/**
 * The route of CORS preflights, first: Envoy's CORS filter acts only on a route that forwards,
 * and the policy's own routes may not take OPTIONS (the default-deny route is a direct response).
 * It matches exactly what the filter calls a preflight, and the filter answers every preflight
 * itself (forward_not_matching_preflights is off), so nothing on it reaches the app.
 */
export function corsPreflightRoute(workload: string): JsonObject {
  return {
    name: `${workload}/cors-preflight`,
    match: {
      prefix: "/",
      headers: [
        { name: ":method", string_match: { exact: "OPTIONS" } },
        { name: "origin", string_match: NOT_EMPTY },
        { name: "access-control-request-method", string_match: NOT_EMPTY },
      ],
    },
    route: { cluster: NAMES.appCluster },
  };
}

/** Present when the policy allows cross-origin requests: the filter, the preflight route, and the policy on the virtual host. */
export const cors: HttpFilterFeature = {
  httpFilters: (ctx) => (ctx.workload.cors ? [httpFilter(CORS_FILTER, { "@type": TypeUrl.cors })] : []),
  leadingRoutes: (ctx): JsonObject[] => (ctx.workload.cors ? [corsPreflightRoute(ctx.workload.name)] : []),
  // The preflight route names the app's cluster, which a policy whose rules never forward would not have.
  clusters: (ctx) => (ctx.workload.cors ? [appCluster(ctx.workload)] : []),
  virtualHostConfig: (ctx): Record<string, JsonObject> => (ctx.workload.cors ? { [CORS_FILTER]: buildCorsPolicy(ctx.workload.cors) } : {}),
};
