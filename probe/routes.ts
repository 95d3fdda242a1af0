import { comparablePath, templateRegex } from "../operator/ir/path-meaning.js";
import type { PathMeaningIR, RouteIR } from "../contract/ir.js";

/**
 * The probe's model of the sidecar's route table, from the IR: which route a request lands on
 * (the first that matches, in order), and a concrete path for each route. It does not model
 * Envoy's own path normalisation: requests in odd forms are what the bypass checks send to the
 * live sidecar instead.
 */

const EXACT: PathMeaningIR = { caseSensitive: true, trailingSlash: "Strict" };

function startsWith(path: string, prefix: string, caseSensitive: boolean): boolean {
  return caseSensitive ? path.startsWith(prefix) : path.toLowerCase().startsWith(prefix.toLowerCase());
}

function pathMatches(route: RouteIR, path: string): boolean {
  const meaning = route.match.meaning ?? EXACT;
  const bare = comparablePath(path, meaning);
  const m = route.match.path;
  if (route.match.pathPrefixGuard !== undefined && !startsWith(bare, route.match.pathPrefixGuard, meaning.caseSensitive)) return false;
  switch (m.kind) {
    case "exact":
      return meaning.caseSensitive ? bare === comparablePath(m.path, meaning) : bare.toLowerCase() === comparablePath(m.path, meaning).toLowerCase();
    case "prefix":
      return startsWith(bare, m.prefix, meaning.caseSensitive) || (m.prefix.endsWith("/") && startsWith(`${bare}/`, m.prefix, meaning.caseSensitive));
    case "template":
      return new RegExp(templateRegex(m.template, meaning).source, meaning.caseSensitive ? "" : "i").test(bare);
  }
}

/** The route a request with `method` and `path` lands on: the first that matches; undefined when none does. */
export function routeFor(routes: readonly RouteIR[], method: string, path: string): RouteIR | undefined {
  return routes.find((r) => (r.match.methods.length === 0 || r.match.methods.includes(method)) && pathMatches(r, path));
}

/** A route that takes every path: the default action's, or a rule whose match is the prefix `/`. */
export function isCatchAll(route: RouteIR): boolean {
  return route.match.path.kind === "prefix" && route.match.path.prefix === "/" && route.match.pathPrefixGuard === undefined;
}

/** A concrete path of `route`, with each template variable filled from `values` (else `probe-1`). */
export function samplePath(route: RouteIR, values: Record<string, string> = {}): string {
  const m = route.match.path;
  let path: string;
  if (m.kind === "exact") path = m.path;
  else if (m.kind === "prefix") path = m.prefix.endsWith("/") ? `${m.prefix}probe` : m.prefix;
  else path = m.template.replace(/\{([A-Za-z_][A-Za-z0-9_]*)(?:=[^}]*)?\}/g, (_, name: string) => encodeURIComponent(values[name] ?? "probe-1")).replace(/\*\*|\*/g, "probe");
  const guard = route.match.pathPrefixGuard;
  if (guard !== undefined && !path.startsWith(guard)) path = guard.endsWith("/") ? `${guard}probe` : guard;
  return path;
}

/** The rule a route name belongs to (`…/rule/<rule>`, without a deprecation split's suffix). */
export function ruleOf(route: RouteIR): string {
  return route.name.replace(/\/deprecation\/[0-9]+(\/sunset)?$/, "");
}
