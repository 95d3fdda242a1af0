import type { JsonObject } from "../../json.js";
import type { RouteIR, TranslationSettings } from "../../../operator/ir/types.js";
import { grpcServiceCluster } from "../clusters.js";
import { allForwardChecks, durationFromMs, forwardChecks } from "../common.js";
import { NAMES } from "../resources.js";
import { TYPE } from "../type-urls.js";
import { httpFilter, type HttpFilterFeature } from "./feature.js";
import { JWT_AUTHN_FILTER } from "./jwt-authn.js";

export const EXT_AUTHZ_FILTER = "envoy.filters.http.ext_authz";
/** Context extension that tells bulwark authz which route's checks apply. */
export const ROUTE_CONTEXT_KEY = "bulwark.dev/route";

/** bulwark authz over gRPC; fails closed (503) when the service cannot answer. */
export function buildExtAuthzFilter(settings: TranslationSettings): JsonObject {
  return httpFilter(EXT_AUTHZ_FILTER, {
    "@type": TYPE.extAuthz,
    grpc_service: { envoy_grpc: { cluster_name: NAMES.authzCluster }, timeout: durationFromMs(settings.authz.timeoutMs) },
    transport_api_version: "V3",
    failure_mode_allow: false,
    status_on_error: { code: "ServiceUnavailable" },
    include_peer_certificate: true,
    metadata_context_namespaces: [JWT_AUTHN_FILTER],
  });
}

export function buildExtAuthzPerRoute(route: RouteIR): JsonObject {
  if (!forwardChecks(route)?.authz) return { "@type": TYPE.extAuthzPerRoute, disabled: true };
  return { "@type": TYPE.extAuthzPerRoute, check_settings: { context_extensions: { [ROUTE_CONTEXT_KEY]: route.name } } };
}

export const extAuthz: HttpFilterFeature = {
  httpFilters: (ctx) => (allForwardChecks(ctx.workload).some((c) => c.authz) ? [buildExtAuthzFilter(ctx.settings)] : []),
  perRouteConfig: (route) => ({ [EXT_AUTHZ_FILTER]: buildExtAuthzPerRoute(route) }),
  clusters: (ctx) => [grpcServiceCluster(NAMES.authzCluster, ctx.settings.authz)],
};
