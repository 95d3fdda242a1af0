/**
 * What a workload's policy declares, read from its IR routes (operator/ir/build-routes.ts):
 * - a rule route (`<policy>/rule/<rule>`) with an exact path or a template declares endpoints;
 *   one with a prefix lets a whole subtree through without naming endpoints;
 * - the last route, `<policy>/default`, is the catch-all: a `respond` 404 (default Deny) or a
 *   forward (default Allow);
 * - a route split for a deprecation window is named `<route>/deprecation/<i>`; every route
 *   inside a window answers with a `deprecation` response header;
 * - a retired prefix is a `respond` 410 route named `<policy>/deprecation/<i>/sunset`.
 * Pure.
 */
import type { RouteIR } from "../../../contract/ir.js";
import { compareStrings } from "../../../common/order.js";

export type RouteRole = "rule" | "default" | "sunset";

/** What the inventory needs to know about one IR route, by its name. */
export interface RouteFacts {
  name: string;
  role: RouteRole;
  match: "exact" | "prefix" | "template";
  /** The default Deny's 404. */
  denies: boolean;
  /** Answers carry a Deprecation header: inside a deprecation window. */
  deprecated: boolean;
  /** Answers 410: past its sunset. */
  sunset: boolean;
}

/** An endpoint a policy rule or an OpenAPI document names. */
export interface DeclaredEndpoint {
  /** Upper case; `*` when any method. */
  method: string;
  /** An exact path or a template (`/v1/orders/{id}`). */
  path: string;
  /** The IR route name, or `openapi`. */
  declaredBy: string;
  deprecated: boolean;
}

const deprecationSuffix = /\/deprecation\/\d+$/;

function routeRole(route: RouteIR): RouteRole {
  if (route.action.kind === "respond" && route.action.status === 410) return "sunset";
  const base = route.name.replace(deprecationSuffix, "");
  return base.endsWith("/default") ? "default" : "rule";
}

export function routeFacts(route: RouteIR): RouteFacts {
  const role = routeRole(route);
  const headers = route.action.responseHeaders;
  return {
    name: route.name,
    role,
    match: route.match.path.kind,
    denies: route.action.kind === "respond" && route.action.status === 404,
    deprecated: route.action.kind === "forward" && headers.some((h) => h.name.toLowerCase() === "deprecation"),
    sunset: role === "sunset",
  };
}

/** Facts of every route, by name. */
export function routeFactsByName(routes: readonly RouteIR[]): Map<string, RouteFacts> {
  return new Map(routes.map((r) => [r.name, routeFacts(r)]));
}

/** Methods a rule names, without the HEAD that GET brings along; `*` for any. */
function declaredMethods(methods: readonly string[]): string[] {
  if (methods.length === 0) return ["*"];
  return methods.filter((m) => m !== "HEAD" || !methods.includes("GET"));
}

/**
 * Endpoints the rules name: each exact or template rule route (not the parts split off for a
 * deprecation window, which repeat the rule's path), per method. Sorted by path, then method.
 */
export function declaredByRoutes(routes: readonly RouteIR[]): DeclaredEndpoint[] {
  const out: DeclaredEndpoint[] = [];
  for (const route of routes) {
    const facts = routeFacts(route);
    if (facts.role !== "rule" || deprecationSuffix.test(route.name) || route.match.path.kind === "prefix") continue;
    const path = route.match.path.kind === "exact" ? route.match.path.path : route.match.path.template;
    for (const method of declaredMethods(route.match.methods)) out.push({ method, path, declaredBy: route.name, deprecated: facts.deprecated });
  }
  return out.sort((a, b) => compareStrings(a.path, b.path) || compareStrings(a.method, b.method));
}

/** The templates an observed path is counted under (EndpointTable.declare): rules' exact paths and templates. */
export function declaredTemplates(endpoints: readonly DeclaredEndpoint[]): string[] {
  return [...new Set(endpoints.map((e) => e.path))];
}
