import type { JsonObject } from "../../json.js";
import type { RequestMeaningIR } from "../../../contract/ir.js";
import { TypeUrl } from "../../type-urls.js";
import { httpFilter, type HttpFilterFeature } from "./feature.js";
import { REASON_HEADER } from "../../../contract/wire.js";

export const REQUEST_MEANING_FILTER = "bulwark.filters.http.request_meaning";

/** Headers that make frameworks run another method than the request line says. */
export const METHOD_OVERRIDE_HEADERS = ["x-http-method-override", "x-http-method", "x-method-override"] as const;

/** Refusal reasons of this filter (x-bulwark-reason), all with status 400. */
export type RequestMeaningReason = "duplicate_header" | "method_override" | "path_parameters";

function luaString(text: string): string {
  return `"${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

function luaList(values: readonly string[]): string {
  return `{ ${values.map(luaString).join(", ")} }`;
}

/**
 * The filter's script. Before any other filter, so every decision reads the same request:
 * - a header a decision reads, sent twice or with a comma (what Envoy makes of two copies), is
 *   refused: never joined (RFC 9110 section 5.3);
 * - method-override headers are refused: the app would run another method than the one matched;
 * - path parameters (`;` in the path, or `%3B`, which a backend that decodes before it strips
 *   parameters reads as `;`) are refused: servlet containers and Spring drop them before routing,
 *   so `/v1/users;x/bob` would reach `/v1/users/bob` past another rule;
 * - the Authorization scheme is written in its canonical case (`dpop` → `DPoP`, `BEARER` →
 *   `Bearer`): scheme names are case-insensitive (RFC 9110 section 11.1), jwt_authn's prefix is not.
 * Everything the script refuses gets 400, a JSON body and x-bulwark-reason.
 */
export function requestMeaningScript(meaning: RequestMeaningIR): string {
  return `local SINGLE = ${luaList(meaning.singleValueHeaders)}
local OVERRIDES = ${luaList(METHOD_OVERRIDE_HEADERS)}
local SCHEMES = { dpop = "DPoP", bearer = "Bearer" }

local function refuse(handle, reason, message)
  handle:respond({ [":status"] = "400", ["content-type"] = "application/json", ["${REASON_HEADER}"] = reason },
    '{"error":"bad_request","reason":"' .. reason .. '","message":"' .. message .. '"}')
end

function envoy_on_request(handle)
  local headers = handle:headers()
  for _, name in ipairs(OVERRIDES) do
    if headers:get(name) ~= nil then return refuse(handle, "method_override", name .. " is not accepted") end
  end
  local path = headers:get(":path") or ""
  local query = string.find(path, "?", 1, true)
  local bare = string.lower(query and string.sub(path, 1, query - 1) or path)
  if string.find(bare, ";", 1, true) or string.find(bare, "%3b", 1, true) then
    return refuse(handle, "path_parameters", "path parameters (; or %3B) are not accepted")
  end
  for _, name in ipairs(SINGLE) do
    local value = headers:get(name)
    if value ~= nil and (headers:getNumValues(name) > 1 or string.find(value, ",", 1, true)) then
      return refuse(handle, "duplicate_header", name .. " must be sent once, with one value")
    end
  end
  local authorization = headers:get("authorization")
  if authorization ~= nil then
    local scheme, rest = string.match(authorization, "^(%a+)( .*)$")
    local canonical = scheme and SCHEMES[string.lower(scheme)]
    if canonical and canonical ~= scheme then headers:replace("authorization", canonical .. rest) end
  end
end
`;
}

export function buildRequestMeaningFilter(meaning: RequestMeaningIR): JsonObject {
  return httpFilter(REQUEST_MEANING_FILTER, { "@type": TypeUrl.lua, default_source_code: { inline_string: requestMeaningScript(meaning) } });
}

/** Present on workloads a policy governs; pass-through workloads forward as they are. */
export const requestMeaning: HttpFilterFeature = {
  httpFilters: (ctx) => (ctx.workload.requestMeaning ? [buildRequestMeaningFilter(ctx.workload.requestMeaning)] : []),
};
