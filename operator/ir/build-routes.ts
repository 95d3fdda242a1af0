import type { PolicySpec, Rule } from "../api/v1alpha1/policy.js";
import { templateVariables } from "../api/v1alpha1/rule.js";
import { buildCallers } from "./build-callers.js";
import { buildConditions } from "./build-conditions.js";
import { buildClientCidrs } from "./build-client-address.js";
import { buildRateLimits } from "./build-rate-limits.js";
import { coveredBy, overlapsPartly, type DeprecationWindow } from "./deprecations.js";
import { ruleName } from "./names.js";
import type { AuthzChecksIR, PathMatchIR, PathMeaningIR, RouteChecksIR, RouteIR, RoutePurposeIR } from "../../contract/ir.js";
import { compareStrings } from "../../common/order.js";

interface RouteContext {
  policy: string;
  /** The policy's namespace: a caller without one is in it. */
  namespace: string;
  spec: PolicySpec;
  windows: DeprecationWindow[];
  meaning: PathMeaningIR;
}

/** The policy's backendMatching; absent: the safe default (any case, a trailing slash ignored). */
export function pathMeaning(spec: PolicySpec): PathMeaningIR {
  return { caseSensitive: spec.backendMatching?.caseSensitive ?? false, trailingSlash: spec.backendMatching?.trailingSlash ?? "Ignore" };
}

/** The rule's methods, sorted; HEAD joins GET (a HEAD request is a GET without the body, RFC 9110 section 9.3.2). */
function ruleMethods(rule: Rule): string[] {
  const methods = [...(rule.match.methods ?? [])];
  if (methods.includes("GET") && !methods.includes("HEAD")) methods.push("HEAD");
  return methods.sort(compareStrings);
}

function pathMatch(rule: Rule): PathMatchIR {
  if (rule.match.path !== undefined) return { kind: "exact", path: rule.match.path };
  if (rule.match.pathPrefix !== undefined) return { kind: "prefix", prefix: rule.match.pathPrefix };
  const template = rule.match.pathTemplate ?? "/";
  return { kind: "template", template, variables: templateVariables(template) };
}

function ownershipCheck(rule: Rule | undefined, ctx: RouteContext): Pick<AuthzChecksIR, "ownership"> {
  if (!rule?.ownership || !rule.match.pathTemplate) return {};
  return { ownership: { ...rule.ownership, template: rule.match.pathTemplate, meaning: ctx.meaning, ...(rule.authorizationMode === "Shadow" ? { shadow: true as const } : {}) } };
}

/** With spec.adaptiveResponse every forward route calls bulwark authz: a flagged identity is refused on every route. */
function adaptiveCheck(ctx: RouteContext): Pick<AuthzChecksIR, "adaptive"> {
  return ctx.spec.adaptiveResponse ? { adaptive: true } : {};
}

/** A partner's server: the key is its credential; tokens, app versions and attestation are the apps'. */
function apiKeyChecks(rule: Rule, ctx: RouteContext): AuthzChecksIR {
  const checks: AuthzChecksIR = { dpop: false, certificateBound: false, appAttestation: false, minAppVersion: false, apiKey: true, ...adaptiveCheck(ctx) };
  return rule.authzTimeoutMs !== undefined ? { ...checks, timeoutMs: rule.authzTimeoutMs } : checks;
}

function authzChecks(rule: Rule | undefined, ctx: RouteContext, authentication: RouteChecksIR["authentication"]): AuthzChecksIR | undefined {
  const constraint = ctx.spec.authentication?.jwt?.senderConstraint;
  const authenticates = authentication !== "None";
  const checks: AuthzChecksIR = {
    dpop: authenticates && constraint?.dpop !== undefined,
    certificateBound: authenticates && constraint?.mtls !== undefined,
    appAttestation: rule?.requireAppAttestation ?? false,
    ...ownershipCheck(rule, ctx),
    minAppVersion: ctx.spec.mobile?.minAppVersion !== undefined,
    ...(authenticates && (ctx.spec.authentication?.jwt?.providers ?? []).some((p) => p.maxTokenAge !== undefined) ? { tokenAge: true as const } : {}),
    ...adaptiveCheck(ctx),
  };
  const needed =
    checks.dpop ||
    checks.certificateBound ||
    checks.appAttestation ||
    checks.ownership !== undefined ||
    checks.minAppVersion ||
    checks.tokenAge === true ||
    checks.adaptive === true;
  if (!needed) return undefined;
  return rule?.authzTimeoutMs !== undefined ? { ...checks, timeoutMs: rule.authzTimeoutMs } : checks;
}

function ruleChecks(rule: Rule, name: string, ctx: RouteContext): RouteChecksIR {
  const limits = buildRateLimits(rule, name, ctx.meaning);
  const authz = rule.authentication === "APIKey" ? apiKeyChecks(rule, ctx) : authzChecks(rule, ctx, rule.authentication);
  const clientCIDRs = buildClientCidrs(rule);
  const callers = buildCallers(rule, ctx.namespace);
  const conditions = buildConditions(rule);
  const require = rule.require
    ? {
        scopes: [...(rule.require.scopes ?? [])].sort(compareStrings),
        claims: Object.entries(rule.require.claims ?? {})
          .sort(([a], [b]) => compareStrings(a, b))
          .map(([claim, values]) => ({ name: claim, values: [...values].sort(compareStrings) })),
      }
    : undefined;
  return {
    // The route's JWT mode: an API-key route checks no token (bulwark authz checks its key).
    authentication: rule.authentication === "APIKey" ? "None" : rule.authentication,
    ...(require ? { require } : {}),
    ...(authz ? { authz } : {}),
    ...(rule.maxRequestBytes !== undefined ? { maxRequestBytes: rule.maxRequestBytes } : {}),
    ...(clientCIDRs ? { clientCIDRs } : {}),
    ...(callers ? { callers } : {}),
    ...(conditions ? { conditions } : {}),
    ...(rule.authorizationMode === "Shadow" ? { shadowAuthorization: true as const } : {}),
    ...(limits.local ? { localRateLimit: limits.local } : {}),
    globalRateLimits: limits.global,
  };
}

/** One forward route, split where part of it falls under a deprecation window. */
function forwardRoutes(
  base: {
    name: string;
    path: PathMatchIR;
    methods: string[];
    checks: RouteChecksIR;
    meaning?: PathMeaningIR;
    defaults?: { name: string; value: string }[];
    notModified?: boolean;
    purpose?: RoutePurposeIR;
  },
  windows: DeprecationWindow[],
): RouteIR[] {
  const meaning = base.meaning ? { meaning: base.meaning } : {};
  const purpose = base.purpose ? { purpose: base.purpose } : {};
  const defaults = {
    ...(base.defaults && base.defaults.length > 0 ? { defaultResponseHeaders: base.defaults } : {}),
    ...(base.notModified ? { notModified: true as const } : {}),
  };
  const active = windows.filter((w) => !w.sunset);
  const routes: RouteIR[] = [];
  for (const window of active) {
    if (!overlapsPartly(base.path, window.pathPrefix)) continue;
    // Inside the window, the most specific window that covers its prefix supplies the headers.
    routes.push({
      name: `${base.name}/deprecation/${window.index}`,
      match: { path: base.path, methods: base.methods, pathPrefixGuard: window.pathPrefix, ...meaning },
      action: { kind: "forward", checks: base.checks, responseHeaders: window.headers, ...defaults },
      ...purpose,
    });
  }
  const covering = active.find((w) => coveredBy(base.path, w.pathPrefix));
  routes.push({
    name: base.name,
    match: { path: base.path, methods: base.methods, ...meaning },
    action: { kind: "forward", checks: base.checks, responseHeaders: covering?.headers ?? [], ...defaults },
    ...purpose,
  });
  return routes;
}

function sunsetRoutes(ctx: RouteContext): RouteIR[] {
  return ctx.windows
    .filter((w) => w.sunset)
    .map((w) => ({
      name: `${ctx.policy}/deprecation/${w.index}/sunset`,
      match: { path: { kind: "prefix", prefix: w.pathPrefix }, methods: [], meaning: ctx.meaning },
      action: {
        kind: "respond",
        status: 410,
        body: JSON.stringify({ error: "gone", message: `This API was retired on ${w.sunsetHttpDate}.`, ...(w.link ? { link: w.link } : {}) }),
        responseHeaders: [{ name: "sunset", value: w.sunsetHttpDate }, ...(w.link ? [{ name: "link", value: `<${w.link}>; rel="sunset"; type="text/html"` }] : [])],
      },
    }));
}

function defaultRoutes(ctx: RouteContext): RouteIR[] {
  const name = `${ctx.policy}/default`;
  const everything: PathMatchIR = { kind: "prefix", prefix: "/" };
  if (ctx.spec.defaultAction === "Deny") {
    return [
      {
        name,
        match: { path: everything, methods: [] },
        action: { kind: "respond", status: 404, body: JSON.stringify({ error: "not_found" }), responseHeaders: [] },
      },
    ];
  }
  const authz = authzChecks(undefined, ctx, "None");
  const checks: RouteChecksIR = { authentication: "None", ...(authz ? { authz } : {}), globalRateLimits: [] };
  return forwardRoutes({ name, path: everything, methods: [], checks }, ctx.windows);
}

/** A rule's caching defaults as response headers (sent only where the app sets none). */
function cachingHeaders(rule: Rule): { name: string; value: string }[] {
  const caching = rule.caching;
  if (!caching) return [];
  return [
    ...(caching.cacheControl !== undefined ? [{ name: "cache-control", value: caching.cacheControl }] : []),
    ...(caching.vary ? [{ name: "vary", value: caching.vary.join(", ") }] : []),
  ];
}

/**
 * The routes of a policy in match order: retired prefixes (410) first, then each rule —
 * split where a deprecation window covers part of it — then the default action's catch-all.
 */
export function buildRoutes(policy: string, spec: PolicySpec, windows: DeprecationWindow[], namespace: string): RouteIR[] {
  const ctx: RouteContext = { policy, namespace, spec, windows, meaning: pathMeaning(spec) };
  const rules = (spec.rules ?? []).flatMap((rule) => {
    const name = ruleName(policy, rule.name);
    return forwardRoutes(
      {
        name,
        path: pathMatch(rule),
        methods: ruleMethods(rule),
        checks: ruleChecks(rule, name, ctx),
        meaning: ctx.meaning,
        defaults: cachingHeaders(rule),
        notModified: rule.caching?.notModified === true,
        ...(rule.purpose ? { purpose: rule.purpose } : {}),
      },
      windows,
    );
  });
  return [...sunsetRoutes(ctx), ...rules, ...defaultRoutes(ctx)];
}
