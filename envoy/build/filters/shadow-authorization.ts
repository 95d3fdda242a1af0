import type { JsonObject } from "../../json.js";
import type { RouteChecksIR, RouteIR, WorkloadIR } from "../../../contract/ir.js";
import { ShadowHeader } from "../../../contract/wire.js";
import { allForwardChecks, forwardChecks } from "../common.js";
import { TypeUrl } from "../../type-urls.js";

/**
 * Dry-run authorization (a rule's authorizationMode Shadow), Envoy's side: the RBAC filters
 * evaluate the rule's policy as `shadow_rules` and write their verdict into dynamic metadata
 * (namespace envoy.filters.http.rbac, keys prefixed per filter); the route copies the verdict into
 * a request header for the backend, and the connection manager logs each shadow refusal as a
 * JSON line on the sidecar's standard output.
 */

/** Both RBAC filters write under this namespace, whatever their names. */
const RBAC_METADATA = "envoy.filters.http.rbac";
/** `shadow_rules_stat_prefix` of each filter: it prefixes its metadata keys and its shadow stats. */
export const SHADOW_PREFIX = { rules: "bulwark_rules_", callers: "bulwark_callers_" } as const;
const RESULT_KEY = "shadow_engine_result";

export function isShadow(checks: RouteChecksIR | undefined): boolean {
  return checks?.shadowAuthorization === true;
}

function verdict(prefix: string): string {
  return `%DYNAMIC_METADATA(${RBAC_METADATA}:${prefix}${RESULT_KEY})%`;
}

/** The route's request headers with the shadow verdicts (replacing a client's copy), for the checks the route has. */
export function shadowRequestHeaders(route: RouteIR, has: { rules: boolean; callers: boolean }): JsonObject[] {
  if (!isShadow(forwardChecks(route))) return [];
  const header = (key: string, value: string): JsonObject => ({ header: { key, value }, append_action: "OVERWRITE_IF_EXISTS_OR_ADD" });
  return [
    ...(has.rules ? [header(ShadowHeader.authorization, verdict(SHADOW_PREFIX.rules))] : []),
    ...(has.callers ? [header(ShadowHeader.callers, verdict(SHADOW_PREFIX.callers))] : []),
  ];
}

/**
 * The verdict headers Bulwark does not write on this route, which the route removes: the backend
 * reads them as Bulwark's word, so a client's own copy must never reach it — on a route in
 * Enforce, on a shadow route for a check it does not have, and everywhere else. The ownership
 * verdict comes from bulwark authz (ext_authz sets it before the router applies the route's
 * removals), so it is kept where authz checks ownership in shadow; so is the adaptive verdict,
 * where authz writes it (every route of a workload with an adaptive rule in Shadow mode).
 */
export function forgedShadowHeaders(route: RouteIR, has: { rules: boolean; callers: boolean; adaptiveShadow?: boolean }): string[] {
  const checks = forwardChecks(route);
  const shadow = isShadow(checks);
  return [
    ...(shadow && has.rules ? [] : [ShadowHeader.authorization]),
    ...(shadow && has.callers ? [] : [ShadowHeader.callers]),
    ...(checks?.authz?.ownership?.shadow ? [] : [ShadowHeader.ownership]),
    ...(has.adaptiveShadow && checks?.authz?.adaptive ? [] : [ShadowHeader.adaptive]),
  ];
}

function deniedBy(prefix: string): JsonObject {
  // match_if_key_not_found false: a route without this filter's shadow policy is not a refusal (the default would match it).
  return {
    metadata_filter: {
      matcher: { filter: RBAC_METADATA, path: [{ key: `${prefix}${RESULT_KEY}` }], value: { string_match: { exact: "denied" } } },
      match_if_key_not_found: false,
    },
  };
}

/** A JSON line on the sidecar's stdout for every request a shadow policy would have refused: what a SIEM ingests. */
export function buildShadowAccessLog(workload: WorkloadIR): JsonObject[] {
  if (!allForwardChecks(workload).some(isShadow)) return [];
  return [
    {
      name: "envoy.access_loggers.stdout",
      filter: { or_filter: { filters: [deniedBy(SHADOW_PREFIX.rules), deniedBy(SHADOW_PREFIX.callers)] } },
      typed_config: {
        "@type": TypeUrl.stdoutAccessLog,
        log_format: {
          json_format: {
            event: "bulwark_shadow_refusal",
            time: "%START_TIME%",
            workload: workload.name,
            route: "%ROUTE_NAME%",
            method: "%REQ(:METHOD)%",
            path: "%REQ(:PATH)%",
            client: "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%",
            peer: "%DOWNSTREAM_PEER_URI_SAN%",
            authorization: `%DYNAMIC_METADATA(${RBAC_METADATA}:${SHADOW_PREFIX.rules}${RESULT_KEY})%`,
            callers: `%DYNAMIC_METADATA(${RBAC_METADATA}:${SHADOW_PREFIX.callers}${RESULT_KEY})%`,
            status: "%RESPONSE_CODE%",
          },
        },
      },
    },
  ];
}
