import { shadowRequestHeaders, forgedShadowHeaders } from "./filters/shadow-authorization.js";
import { hasShadowRbac } from "./filters/rbac.js";
import type { JsonObject } from "../json.js";
import { directoryPrefixRegex, exactPathRegex, templateRegex } from "../../operator/ir/path-meaning.js";
import type { PathMatchIR, PathMeaningIR, RouteIR, WorkloadIR } from "../../contract/ir.js";
import { clientAddressOf, clientAddressRequestHeaders } from "./client-address.js";
import { escapeRegex, overwriteHeader, overwriteHeaderLiteral } from "./common.js";
import type { FilterContext, HttpFilterFeature } from "./filters/feature.js";
import { NAMES } from "./resources.js";
import { TypeUrl } from "../type-urls.js";

function exactSpecifier(path: PathMatchIR): JsonObject {
  switch (path.kind) {
    case "exact":
      return { path: path.path };
    case "prefix":
      return { prefix: path.prefix };
    case "template":
      return {
        path_match_policy: {
          name: "envoy.path.match.uri_template.uri_template_matcher",
          typed_config: { "@type": TypeUrl.uriTemplateMatch, path_template: path.template },
        },
      };
  }
}

function regexSpecifier(regex: string, meaning: PathMeaningIR): JsonObject {
  return { safe_regex: { regex: `${meaning.caseSensitive ? "" : "(?i)"}${regex}` } };
}

/**
 * The path part of a route match, comparing paths as the backend does (`meaning`): literal
 * matchers with case_sensitive false where only case differs; a regular expression where a
 * trailing slash is optional or a template must ignore case (the URI template matcher cannot).
 */
function pathSpecifier(path: PathMatchIR, meaning: PathMeaningIR | undefined): JsonObject {
  if (!meaning || (meaning.caseSensitive && meaning.trailingSlash === "Strict")) return exactSpecifier(path);
  const ignoreSlash = meaning.trailingSlash === "Ignore";
  const caseFlag: JsonObject = meaning.caseSensitive ? {} : { case_sensitive: false };
  switch (path.kind) {
    case "exact":
      return ignoreSlash && path.path !== "/" ? regexSpecifier(exactPathRegex(path.path, meaning), meaning) : { path: path.path, ...caseFlag };
    case "prefix":
      return ignoreSlash && path.prefix.endsWith("/") && path.prefix !== "/" ? regexSpecifier(directoryPrefixRegex(path.prefix), meaning) : { prefix: path.prefix, ...caseFlag };
    case "template":
      return regexSpecifier(templateRegex(path.template, meaning).source, meaning);
  }
}

function methodMatcher(methods: readonly string[]): JsonObject | undefined {
  if (methods.length === 0) return undefined;
  const stringMatch: JsonObject = methods.length === 1 && methods[0] ? { exact: methods[0] } : { safe_regex: { regex: `^(${methods.map(escapeRegex).join("|")})$` } };
  return { name: ":method", string_match: stringMatch };
}

export function buildRouteMatch(match: RouteIR["match"]): JsonObject {
  const method = methodMatcher(match.methods);
  const headers = [
    ...(method ? [method] : []),
    ...(match.pathPrefixGuard !== undefined
      ? [{ name: ":path", string_match: { prefix: match.pathPrefixGuard, ...(match.meaning && !match.meaning.caseSensitive ? { ignore_case: true } : {}) } }]
      : []),
  ];
  return { ...pathSpecifier(match.path, match.meaning), ...(headers.length > 0 ? { headers } : {}) };
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function directResponseHeaders(action: Extract<RouteIR["action"], { kind: "respond" }>): JsonObject[] {
  const declared = action.responseHeaders.map((h) => overwriteHeaderLiteral(h.name, h.value));
  const hasContentType = action.responseHeaders.some((h) => h.name.toLowerCase() === "content-type");
  return !hasContentType && action.body !== "" && isJson(action.body) ? [...declared, overwriteHeader("content-type", "application/json")] : declared;
}

/** The forward route's response headers: its own (replacing the app's), then its defaults (only where the app set none). */
function responseHeadersToAdd(action: Extract<RouteIR["action"], { kind: "forward" }>): JsonObject {
  const headers = [
    ...action.responseHeaders.map((h) => overwriteHeaderLiteral(h.name, h.value)),
    ...(action.defaultResponseHeaders ?? []).map((h) => ({ header: { key: h.name, value: h.value.replaceAll("%", "%%") }, append_action: "ADD_IF_ABSENT" })),
  ];
  return headers.length > 0 ? { response_headers_to_add: headers } : {};
}

function buildRoute(route: RouteIR, options: { ctx: FilterContext; features: readonly HttpFilterFeature[] }): JsonObject {
  const perFilter: JsonObject = {};
  for (const feature of options.features) Object.assign(perFilter, feature.perRouteConfig?.(route, options.ctx) ?? {});
  const common = { name: route.name, match: buildRouteMatch(route.match), ...(Object.keys(perFilter).length > 0 ? { typed_per_filter_config: perFilter } : {}) };
  const action = route.action;
  if (action.kind === "respond") {
    const headers = directResponseHeaders(action);
    return {
      ...common,
      direct_response: { status: action.status, ...(action.body !== "" ? { body: { inline_string: action.body } } : {}) },
      ...(headers.length > 0 ? { response_headers_to_add: headers } : {}),
    };
  }
  const routeAction: JsonObject = { cluster: NAMES.appCluster };
  for (const feature of options.features) Object.assign(routeAction, feature.routeAction?.(route, options.ctx) ?? {});
  const shadowHeaders = shadowRequestHeaders(route, { rules: hasShadowRbac(route), callers: action.checks.callers !== undefined });
  // The API client's name is set by bulwark authz on partner routes only; on every other route a value the caller wrote is dropped.
  const apiClientHeader = options.ctx.workload.apiKeys && action.checks.authz?.apiKey !== true ? options.ctx.workload.apiKeys.clientHeader : undefined;
  // Pass-through workloads (no policy) make no claims to their app, so they strip nothing.
  const adaptiveShadow = options.ctx.workload.adaptive?.rules.some((r) => r.mode === "Shadow") ?? false;
  const forged = options.ctx.workload.policy ? forgedShadowHeaders(route, { rules: hasShadowRbac(route), callers: action.checks.callers !== undefined, adaptiveShadow }) : [];
  const removed = [...forged, ...(apiClientHeader ? [apiClientHeader] : [])];
  return {
    ...common,
    route: routeAction,
    ...(shadowHeaders.length > 0 ? { request_headers_to_add: shadowHeaders } : {}),
    ...(removed.length > 0 ? { request_headers_to_remove: removed } : {}),
    ...responseHeadersToAdd(action),
  };
}

function virtualHostPerFilter(options: { ctx: FilterContext; features: readonly HttpFilterFeature[] }): JsonObject {
  const perFilter: JsonObject = {};
  for (const feature of options.features) Object.assign(perFilter, feature.virtualHostConfig?.(options.ctx) ?? {});
  return Object.keys(perFilter).length > 0 ? { typed_per_filter_config: perFilter } : {};
}

/**
 * The inbound route configuration: one virtual host for any authority, routes in IR (match)
 * order; requests reach the app with the client's address as decided, not as written.
 */
/**
 * HSTS on every response, the sidecar's own refusals included: with a public certificate the
 * listener serves TLS only (mtls Disabled, no plaintext chain), so no response goes out in clear.
 */
function strictTransportSecurityHeader(workload: WorkloadIR): JsonObject {
  const value = workload.listener.tls?.strictTransportSecurity;
  return value ? { response_headers_to_add: [overwriteHeaderLiteral("strict-transport-security", value)] } : {};
}

export function buildRouteConfiguration(options: { ctx: FilterContext; features: readonly HttpFilterFeature[] }): JsonObject {
  return {
    "@type": TypeUrl.routeConfiguration,
    name: NAMES.routeConfiguration,
    request_headers_to_add: clientAddressRequestHeaders(clientAddressOf(options.ctx.workload, options.ctx.settings)),
    ...strictTransportSecurityHeader(options.ctx.workload),
    virtual_hosts: [
      {
        name: NAMES.routeConfiguration,
        domains: ["*"],
        routes: [...options.features.flatMap((f) => f.leadingRoutes?.(options.ctx) ?? []), ...options.ctx.workload.routes.map((route) => buildRoute(route, options))],
        ...virtualHostPerFilter(options),
      },
    ],
  };
}
