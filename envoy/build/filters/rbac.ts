import type { JsonObject } from "../../json.js";
import type { ConditionsIR, RouteChecksIR, RouteIR } from "../../../contract/ir.js";
import { allForwardChecks, forwardChecks } from "../common.js";
import { TypeUrl } from "../../type-urls.js";
import { httpFilter, type HttpFilterFeature } from "./feature.js";
import { isShadow, SHADOW_PREFIX } from "./shadow-authorization.js";
import { JWT_AUTHN_FILTER, JWT_HEADER_KEY, JWT_PAYLOAD_KEY } from "../../../contract/wire.js";

export const RBAC_FILTER = "envoy.filters.http.rbac";

type Requirement = NonNullable<RouteChecksIR["require"]>;

/** A principal matching the verified JWT payload's `claim` with a ValueMatcher. */
function payload(claim: string, value: JsonObject): JsonObject {
  return { metadata: { filter: JWT_AUTHN_FILTER, path: [{ key: JWT_PAYLOAD_KEY }, { key: claim }], value } };
}

/**
 * No critical header parameter: jwt_authn verifies tokens without reading `crit`, and Bulwark
 * understands no JWS extension, so a token that names one is refused (RFC 7515 section 4.1.11).
 */
const NO_CRITICAL_EXTENSION: JsonObject = {
  not_id: { metadata: { filter: JWT_AUTHN_FILTER, path: [{ key: JWT_HEADER_KEY }, { key: "crit" }], value: { present_match: true } } },
};

function anyOf(ids: JsonObject[]): JsonObject {
  return ids.length === 1 && ids[0] ? ids[0] : { or_ids: { ids } };
}

/**
 * The scope is one of the space-separated words of `scope` (RFC 8693) — the whole claim, its
 * first, last or a middle word — or an element of the `scp` array. Plain string matchers, not a
 * regex: RE2's program-size limit would refuse a regex for a long scope.
 */
function scopePrincipal(scope: string): JsonObject {
  const words: JsonObject[] = [{ exact: scope }, { prefix: `${scope} ` }, { suffix: ` ${scope}` }, { contains: ` ${scope} ` }];
  return anyOf([...words.map((match) => payload("scope", { string_match: match })), payload("scp", { list_match: { one_of: { string_match: { exact: scope } } } })]);
}

/** Matchers for a claim equal to `value`: as a string, an element of an array, or the boolean or number it spells. */
function claimValueMatchers(value: string): JsonObject[] {
  const matchers: JsonObject[] = [{ string_match: { exact: value } }];
  if (value === "true" || value === "false") matchers.push({ bool_match: value === "true" });
  else if (/^-?\d+(\.\d+)?$/.test(value)) matchers.push({ double_match: { exact: Number(value) } });
  return matchers.flatMap((m) => [m, { list_match: { one_of: m } }]);
}

function claimPrincipal(claim: { name: string; values: string[] }): JsonObject {
  return anyOf(claim.values.flatMap((v) => claimValueMatchers(v).map((m) => payload(claim.name, m))));
}

function requirementPrincipals(require: Requirement): JsonObject[] {
  return [...require.scopes.map(scopePrincipal), ...require.claims.filter((c) => c.values.length > 0).map(claimPrincipal)];
}

/** The header is exactly one of `values` (the request-meaning filter refuses it sent twice: the app might read the other copy). */
function headerPrincipal(header: { name: string; values: string[] }): JsonObject {
  return anyOf(header.values.map((value) => ({ header: { name: header.name, string_match: { exact: value } } })));
}

/**
 * The header holds one of `values` in any copy: alone, or as one of the comma-joined copies Envoy
 * makes of some headers sent several times. A refused value cannot slip through beside another
 * copy, and such headers need not arrive once (values such as User-Agent contain commas).
 */
function refusedHeaderPrincipal(header: { name: string; values: string[] }): JsonObject {
  const element = (value: string): JsonObject[] => [{ exact: value }, { prefix: `${value},` }, { suffix: `,${value}` }, { contains: `,${value},` }];
  return anyOf(header.values.flatMap((value) => element(value).map((match) => ({ header: { name: header.name, string_match: match } }))));
}

/** Rules' `when`: every required header value, and none of the refused header or claim values. */
function conditionPrincipals(conditions: ConditionsIR): JsonObject[] {
  const refused = [...conditions.notHeaders.map(refusedHeaderPrincipal), ...conditions.notClaims.map(claimPrincipal)];
  return [...conditions.headers.map(headerPrincipal), ...(refused.length > 0 ? [{ not_id: anyOf(refused) }] : [])];
}

/** The rule's authorization: its scopes and claims, and its conditions (dry-run under Shadow). */
function authorizationPrincipals(checks: RouteChecksIR | undefined): JsonObject[] {
  return [...(checks?.require ? requirementPrincipals(checks.require) : []), ...(checks?.conditions ? conditionPrincipals(checks.conditions) : [])];
}

function checkedPrincipals(checks: RouteChecksIR | undefined): JsonObject[] {
  return [...(authenticates(checks) ? [NO_CRITICAL_EXTENSION] : []), ...authorizationPrincipals(checks)];
}

/** True when the route's RBAC policy has a dry-run (shadow) part: its x-bulwark-shadow-authorization header is set. */
export function hasShadowRbac(route: RouteIR): boolean {
  const checks = forwardChecks(route);
  return isShadow(checks) && authorizationPrincipals(checks).length > 0;
}

function allowOnly(name: string, principals: JsonObject[]): JsonObject {
  return { action: "ALLOW", policies: { [name]: { permissions: [{ any: true }], principals: [{ and_ids: { ids: principals } }] } } };
}

function authenticates(checks: RouteChecksIR | undefined): boolean {
  return checks !== undefined && checks.authentication !== "None";
}

/**
 * The route's RBAC policy on the verified payload and header: no critical extension on routes
 * that verify a token, every scope and claim required, and the rule's conditions; undefined when
 * nothing is checked.
 */
export function buildRbacPerRoute(route: RouteIR): JsonObject | undefined {
  const checks = forwardChecks(route);
  const principals = checkedPrincipals(checks);
  if (principals.length === 0) return undefined;
  if (!hasShadowRbac(route)) return { "@type": TypeUrl.rbacPerRoute, rbac: { rules: allowOnly(route.name, principals) } };
  // Shadow: the token's validity (no critical extension) stays enforced; the rule's authorization is only evaluated.
  return {
    "@type": TypeUrl.rbacPerRoute,
    rbac: {
      ...(authenticates(checks) ? { rules: allowOnly(route.name, [NO_CRITICAL_EXTENSION]) } : {}),
      shadow_rules: allowOnly(route.name, authorizationPrincipals(checks)),
      shadow_rules_stat_prefix: SHADOW_PREFIX.rules,
    },
  };
}

export const rbac: HttpFilterFeature = {
  // Without rules the filter allows everything; routes with checks carry their own policy.
  httpFilters: (ctx) => (allForwardChecks(ctx.workload).some((c) => checkedPrincipals(c).length > 0) ? [httpFilter(RBAC_FILTER, { "@type": TypeUrl.rbac })] : []),
  perRouteConfig: (route): Record<string, JsonObject> => {
    const config = buildRbacPerRoute(route);
    return config ? { [RBAC_FILTER]: config } : {};
  },
};
