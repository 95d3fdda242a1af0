import type { JsonObject } from "../../json.js";
import type { RouteIR, TranslationSettings } from "../../../contract/ir.js";
import { grpcServiceCluster } from "../clusters.js";
import { allForwardChecks, durationFromMs, forwardChecks } from "../common.js";
import { NAMES } from "../resources.js";
import { TypeUrl } from "../../type-urls.js";
import { httpFilter, type FilterContext, type HttpFilterFeature } from "./feature.js";
import { CLIENT_ADDRESS_METADATA, JWT_AUTHN_FILTER, ROUTE_CONTEXT_KEY } from "../../../contract/wire.js";

export const EXT_AUTHZ_FILTER = "envoy.filters.http.ext_authz";

/**
 * The ext_authz filter that calls bulwark authz with this timeout: the settings' timeout has the
 * plain name; a rule's own timeout gets a filter of its own (`…/timeout-<ms>ms`), because the
 * Envoy API this project builds against has no per-route override of the service's timeout.
 */
export function extAuthzFilterName(timeoutMs: number | undefined, settings: TranslationSettings): string {
  return timeoutMs === undefined || timeoutMs === settings.authz.timeoutMs ? EXT_AUTHZ_FILTER : `${EXT_AUTHZ_FILTER}/timeout-${timeoutMs}ms`;
}

/**
 * bulwark authz over gRPC; fails closed (503) when the service cannot answer in time. With
 * `clientAddress`, authz also receives the client's address the sidecar decided (client-address-metadata.ts).
 */
export function buildExtAuthzFilter(settings: TranslationSettings, timeoutMs = settings.authz.timeoutMs, clientAddress = false): JsonObject {
  return httpFilter(extAuthzFilterName(timeoutMs, settings), {
    "@type": TypeUrl.extAuthz,
    grpc_service: { envoy_grpc: { cluster_name: NAMES.authzCluster }, timeout: durationFromMs(timeoutMs) },
    transport_api_version: "V3",
    failure_mode_allow: false,
    status_on_error: { code: "ServiceUnavailable" },
    include_peer_certificate: true,
    metadata_context_namespaces: clientAddress ? [JWT_AUTHN_FILTER, CLIENT_ADDRESS_METADATA] : [JWT_AUTHN_FILTER],
  });
}

/** The timeouts of the workload's authz routes, each once, in order (the settings' own first). */
function timeoutsOf(ctx: FilterContext): number[] {
  const timeouts = new Set<number>();
  for (const checks of allForwardChecks(ctx.workload)) if (checks.authz) timeouts.add(checks.authz.timeoutMs ?? ctx.settings.authz.timeoutMs);
  const own = ctx.settings.authz.timeoutMs;
  return [...timeouts].sort((a, b) => (a === own ? -1 : b === own ? 1 : a - b));
}

/** The route's own filter checks it (with the route's name); every other ext_authz filter is off there. */
export function buildExtAuthzPerRoute(route: RouteIR, ctx: FilterContext): Record<string, JsonObject> {
  const authz = forwardChecks(route)?.authz;
  const mine = authz ? extAuthzFilterName(authz.timeoutMs, ctx.settings) : undefined;
  const out: Record<string, JsonObject> = {};
  for (const timeout of timeoutsOf(ctx)) {
    const name = extAuthzFilterName(timeout, ctx.settings);
    out[name] =
      name === mine
        ? { "@type": TypeUrl.extAuthzPerRoute, check_settings: { context_extensions: { [ROUTE_CONTEXT_KEY]: route.name } } }
        : { "@type": TypeUrl.extAuthzPerRoute, disabled: true };
  }
  return out;
}

export const extAuthz: HttpFilterFeature = {
  httpFilters: (ctx) => timeoutsOf(ctx).map((timeout) => buildExtAuthzFilter(ctx.settings, timeout, ctx.workload.adaptive !== undefined)),
  perRouteConfig: (route, ctx) => buildExtAuthzPerRoute(route, ctx),
  clusters: (ctx) => [grpcServiceCluster(NAMES.authzCluster, ctx.settings.authz)],
};
