import type { JsonObject } from "../../json.js";
import type { RouteIR, WorkloadIR } from "../../../contract/ir.js";
import { TypeUrl } from "../../type-urls.js";
import { httpFilter, type HttpFilterFeature } from "./feature.js";

export const NOT_MODIFIED_FILTER = "envoy.filters.http.lua.not_modified";

/**
 * caching.notModified: conditional requests answered at the sidecar (RFC 9110 section 13.1.2).
 * On the request, a GET or HEAD's If-None-Match (every copy: it is a list) is kept in the
 * stream's metadata; on the response, a 200 from the app whose ETag it names (weak comparison:
 * W/ is ignored on both sides; `*` names any) becomes 304 without the body. The body's chunks are
 * emptied as they pass, nothing is buffered: a 304 that carried content would be a protocol
 * error over HTTP/2. The filter sits next to the router, so it sees the app's own ETag (before
 * the compressor weakens it). It never makes up an ETag: an answer without one passes untouched.
 */
const SCRIPT = `local function tags(list)
  local out = {}
  for item in string.gmatch(list, "[^,]+") do
    local tag = string.match(item, "^%s*(.-)%s*$")
    if tag ~= "" then out[#out + 1] = tag end
  end
  return out
end

local function opaque(tag)
  local weak = string.match(tag, '^W/(".*")$')
  return weak or tag
end

function envoy_on_request(handle)
  local method = handle:headers():get(":method")
  if method ~= "GET" and method ~= "HEAD" then return end
  local count = handle:headers():getNumValues("if-none-match")
  if count == 0 then return end
  local values = {}
  for i = 0, count - 1 do values[#values + 1] = handle:headers():getAtIndex("if-none-match", i) end
  handle:streamInfo():dynamicMetadata():set("bulwark.not_modified", "if_none_match", table.concat(values, ","))
end

function envoy_on_response(handle)
  local stored = handle:streamInfo():dynamicMetadata():get("bulwark.not_modified")
  if stored == nil then return end
  if handle:headers():get(":status") ~= "200" then return end
  local etag = handle:headers():get("etag")
  if etag == nil or string.find(etag, ",", 1, true) then return end
  local match = false
  for _, tag in ipairs(tags(stored["if_none_match"])) do
    if tag == "*" or opaque(tag) == opaque(etag) then match = true end
  end
  if not match then return end
  handle:headers():replace(":status", "304")
  handle:headers():remove("content-length")
  handle:headers():remove("content-type")
  handle:headers():remove("content-encoding")
  for chunk in handle:bodyChunks() do chunk:setBytes("") end
end
`;

function anyNotModified(workload: WorkloadIR): boolean {
  return workload.routes.some((r) => r.action.kind === "forward" && r.action.notModified === true);
}

export const notModified: HttpFilterFeature = {
  httpFilters: (ctx) => (anyNotModified(ctx.workload) ? [httpFilter(NOT_MODIFIED_FILTER, { "@type": TypeUrl.lua, default_source_code: { inline_string: SCRIPT } })] : []),
  // Only the routes whose rule asks for it; the others pass the filter untouched.
  perRouteConfig: (route: RouteIR, ctx): Record<string, JsonObject> =>
    anyNotModified(ctx.workload) && !(route.action.kind === "forward" && route.action.notModified === true)
      ? { [NOT_MODIFIED_FILTER]: { "@type": TypeUrl.luaPerRoute, disabled: true } }
      : {},
};
