import type { JsonObject } from "../../json.js";
import type { ClientCidrsIR, RouteIR, WorkloadIR } from "../../../contract/ir.js";
import { cidrRange } from "../client-address.js";
import { allForwardChecks, forwardChecks } from "../common.js";
import { TypeUrl } from "../../type-urls.js";
import { httpFilter, type HttpFilterFeature } from "./feature.js";
import { REASON_HEADER } from "../../../contract/wire.js";

/**
 * Rules' clientCIDRs: an RBAC filter of its own, first in the chain, whose per-route policy
 * refuses (403) the clients outside `allow` or inside `deny`. `remote_ip` is the address the
 * connection manager decided (spec.clientAddress), not the one the client writes.
 */
export const CLIENT_CIDRS_FILTER = "envoy.filters.http.rbac.client_address";
/** The refusing policy's id: Envoy reports `rbac_access_denied_matched_policy[<id>]` when it matches. */
const DENY_POLICY = "bulwark-client-address";
export const CLIENT_ADDRESS_DENIED = "client_address_denied";

function anyNetwork(cidrs: readonly string[]): JsonObject {
  const ids = cidrs.map((c) => ({ remote_ip: cidrRange(c) }));
  return ids.length === 1 && ids[0] ? ids[0] : { or_ids: { ids } };
}

/** Who is refused: inside deny, or (when allow lists networks) outside every one of them. */
function refusedClients(cidrs: ClientCidrsIR): JsonObject {
  const refused = [...(cidrs.deny.length > 0 ? [anyNetwork(cidrs.deny)] : []), ...(cidrs.allow.length > 0 ? [{ not_id: anyNetwork(cidrs.allow) }] : [])];
  return refused.length === 1 && refused[0] ? refused[0] : { or_ids: { ids: refused } };
}

export function buildClientCidrsPerRoute(cidrs: ClientCidrsIR): JsonObject {
  return {
    "@type": TypeUrl.rbacPerRoute,
    rbac: { rules: { action: "DENY", policies: { [DENY_POLICY]: { permissions: [{ any: true }], principals: [refusedClients(cidrs)] } } } },
  };
}

function hasClientCidrs(workload: WorkloadIR): boolean {
  return allForwardChecks(workload).some((c) => c.clientCIDRs !== undefined);
}

/**
 * The connection manager's local reply mapper that says why: RBAC's own 403 names no reason,
 * so the refusal of this filter's policy gets `x-bulwark-reason` and a JSON body.
 */
export function clientCidrsLocalReplies(workload: WorkloadIR): JsonObject[] {
  if (!hasClientCidrs(workload)) return [];
  return [
    {
      filter: {
        extension_filter: {
          name: "envoy.access_loggers.extension_filters.cel",
          typed_config: { "@type": TypeUrl.celAccessLogFilter, expression: `response.code_details == 'rbac_access_denied_matched_policy[${DENY_POLICY}]'` },
        },
      },
      headers_to_add: [{ header: { key: REASON_HEADER, value: CLIENT_ADDRESS_DENIED }, append_action: "OVERWRITE_IF_EXISTS_OR_ADD" }],
      body: { inline_string: JSON.stringify({ error: CLIENT_ADDRESS_DENIED }) },
      body_format_override: { text_format_source: { inline_string: "%LOCAL_REPLY_BODY%" }, content_type: "application/json" },
    },
  ];
}

export const clientCidrs: HttpFilterFeature = {
  // Without a per-route policy the filter allows everything.
  httpFilters: (ctx) => (hasClientCidrs(ctx.workload) ? [httpFilter(CLIENT_CIDRS_FILTER, { "@type": TypeUrl.rbac })] : []),
  perRouteConfig: (route: RouteIR): Record<string, JsonObject> => {
    const cidrs = forwardChecks(route)?.clientCIDRs;
    return cidrs ? { [CLIENT_CIDRS_FILTER]: buildClientCidrsPerRoute(cidrs) } : {};
  },
};
