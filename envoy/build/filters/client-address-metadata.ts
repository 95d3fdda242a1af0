import type { JsonObject } from "../../json.js";
import { TypeUrl } from "../../type-urls.js";
import { httpFilter, type HttpFilterFeature } from "./feature.js";
import { CLIENT_ADDRESS_KEY, CLIENT_ADDRESS_METADATA } from "../../../contract/wire.js";

export const CLIENT_ADDRESS_METADATA_FILTER = "bulwark.filters.http.client_address";

/**
 * The client's address as the connection manager decided it (the stream's downstream remote
 * address: what spec.clientAddress says, the same address rate limits, RBAC and the access log
 * use), written as dynamic metadata that ext_authz forwards to bulwark authz. Envoy's
 * CheckRequest names only the TCP peer, which is a proxy's address behind trusted proxies. The
 * client cannot write dynamic metadata.
 */
export const CLIENT_ADDRESS_SCRIPT = `function envoy_on_request(handle)
  local info = handle:streamInfo()
  info:dynamicMetadata():set("${CLIENT_ADDRESS_METADATA}", "${CLIENT_ADDRESS_KEY}", info:downstreamRemoteAddress())
end
`;

export function buildClientAddressMetadataFilter(): JsonObject {
  return httpFilter(CLIENT_ADDRESS_METADATA_FILTER, { "@type": TypeUrl.lua, default_source_code: { inline_string: CLIENT_ADDRESS_SCRIPT } });
}

/** On workloads with an adaptive response: its blocks on client addresses need the decided address. */
export const clientAddressMetadata: HttpFilterFeature = {
  httpFilters: (ctx) => (ctx.workload.adaptive ? [buildClientAddressMetadataFilter()] : []),
};
