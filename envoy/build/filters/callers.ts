import type { JsonObject } from "../../json.js";
import type { CallerIR, RouteIR, TranslationSettings, WorkloadIR } from "../../../contract/ir.js";
import { allForwardChecks, forwardChecks } from "../common.js";
import { TypeUrl } from "../../type-urls.js";
import { httpFilter, type HttpFilterFeature } from "./feature.js";
import { REASON_HEADER } from "../../../contract/wire.js";
import { isShadow, SHADOW_PREFIX } from "./shadow-authorization.js";

/**
 * Rules' callers: an RBAC filter of its own, first in the chain, whose per-route policy refuses
 * (403) every connection whose verified client certificate does not name one of the callers.
 * `authenticated.principal_name` is the certificate's URI SAN, which the mesh CA writes as
 * spiffe://<trust domain>/ns/<namespace>/sa/<serviceAccount>; a plaintext connection has none.
 */
export const CALLERS_FILTER = "envoy.filters.http.rbac.callers";
/** The refusing policy's id: Envoy reports `rbac_access_denied_matched_policy[<id>]` when it matches. */
const DENY_POLICY = "bulwark-callers";
export const CALLER_DENIED = "caller_denied";

/** The SPIFFE id of a caller, or (every ServiceAccount of a namespace) the prefix they share; names hold no '/'. */
function principal(trustDomain: string, caller: CallerIR): JsonObject {
  const namespace = `spiffe://${trustDomain}/ns/${caller.namespace}/sa/`;
  return { authenticated: { principal_name: caller.serviceAccount === undefined ? { prefix: namespace } : { exact: `${namespace}${caller.serviceAccount}` } } };
}

function meshTrustDomain(settings: TranslationSettings): string {
  const trustDomain = settings.mesh?.trustDomain;
  if (trustDomain === undefined) throw new Error("rules with callers need mesh identity (the controller's workload CA and trust domain), which this installation has not enabled");
  return trustDomain;
}

export function buildCallersPerRoute(callers: readonly CallerIR[], trustDomain: string, shadow = false): JsonObject {
  const ids = callers.map((c) => principal(trustDomain, c));
  const allowed = ids.length === 1 && ids[0] ? ids[0] : { or_ids: { ids } };
  const deny = { action: "DENY", policies: { [DENY_POLICY]: { permissions: [{ any: true }], principals: [{ not_id: allowed }] } } };
  // Shadow: evaluated and reported (x-bulwark-shadow-callers, the shadow log line), never refused.
  return { "@type": TypeUrl.rbacPerRoute, rbac: shadow ? { shadow_rules: deny, shadow_rules_stat_prefix: SHADOW_PREFIX.callers } : { rules: deny } };
}

function hasCallers(workload: WorkloadIR): boolean {
  return allForwardChecks(workload).some((c) => c.callers !== undefined);
}

/** The connection manager's local reply for this filter's refusal: `x-bulwark-reason` and a JSON body (RBAC's 403 names no reason). */
export function callersLocalReplies(workload: WorkloadIR): JsonObject[] {
  if (!hasCallers(workload)) return [];
  return [
    {
      filter: {
        extension_filter: {
          name: "envoy.access_loggers.extension_filters.cel",
          typed_config: { "@type": TypeUrl.celAccessLogFilter, expression: `response.code_details == 'rbac_access_denied_matched_policy[${DENY_POLICY}]'` },
        },
      },
      headers_to_add: [{ header: { key: REASON_HEADER, value: CALLER_DENIED }, append_action: "OVERWRITE_IF_EXISTS_OR_ADD" }],
      body: { inline_string: JSON.stringify({ error: CALLER_DENIED }) },
      body_format_override: { text_format_source: { inline_string: "%LOCAL_REPLY_BODY%" }, content_type: "application/json" },
    },
  ];
}

export const callers: HttpFilterFeature = {
  // Without a per-route policy the filter allows everything.
  httpFilters: (ctx) => (hasCallers(ctx.workload) ? [httpFilter(CALLERS_FILTER, { "@type": TypeUrl.rbac })] : []),
  perRouteConfig: (route: RouteIR, ctx): Record<string, JsonObject> => {
    const checks = forwardChecks(route);
    const allowed = checks?.callers;
    return allowed ? { [CALLERS_FILTER]: buildCallersPerRoute(allowed, meshTrustDomain(ctx.settings), isShadow(checks)) } : {};
  },
};
