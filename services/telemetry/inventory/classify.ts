/**
 * Compares what a workload was called on with what its policy and OpenAPI document declare,
 * and classifies every endpoint (contract/telemetry.ts EndpointClass):
 * - zombie: served by a route inside a deprecation window or past its sunset (410), or an
 *   OpenAPI operation marked `deprecated`, and still called;
 * - documented: served by a rule that names it (exact path or template), or in the OpenAPI
 *   document; a prefix rule documents what it lets through only when there is no document;
 * - shadow: everything else that was called — what the default Deny's 404 caught, what the
 *   default Allow or a prefix rule let through without the document naming it, what no route
 *   matched;
 * - unused: declared (by a rule or the document) and never called.
 * Pure and deterministic.
 */
import type { RouteIR } from "../../../contract/ir.js";
import type { EndpointClass, InventoryEndpoint, WorkloadInventory } from "../../../contract/telemetry.js";
import { compareStrings } from "../../../common/order.js";
import { compileTemplate, type CompiledTemplate } from "./declared-template.js";
import { declaredByRoutes, routeFactsByName, type DeclaredEndpoint, type RouteFacts } from "./declared-routes.js";
import type { ObservedEndpoint, ObservedWorkload } from "./endpoint-table.js";
import { pathSegments } from "./segment-shape.js";

export interface ClassifyInput {
  observed: ObservedWorkload;
  /** The workload's IR routes, in match order. */
  routes: readonly RouteIR[];
  /** The service's OpenAPI operations (readOpenApi), when the policy names a document. */
  openapi?: readonly DeclaredEndpoint[];
  /** The policy's backendMatching.caseSensitive (default false). */
  caseSensitive?: boolean;
}

interface Declared {
  endpoint: DeclaredEndpoint;
  compiled: CompiledTemplate;
}

const isVariable = (segment: string): boolean => segment.startsWith("{") && segment.endsWith("}");

/** Whether the declared template covers the observed one (a `{…}` segment matches only a declared variable). */
function covers(declared: CompiledTemplate, observedPath: string, caseSensitive: boolean): boolean {
  const segments = pathSegments(observedPath);
  if (segments.length !== declared.segments.length) return false;
  return declared.segments.every((m, i) => {
    const s = segments[i]!;
    if ("literal" in m) return !isVariable(s) && m.literal === (caseSensitive ? s : s.toLowerCase());
    return isVariable(s) || m.pattern.test(s);
  });
}

function methodFits(declared: string, observed: string, methods: ReadonlySet<string>): boolean {
  // HEAD is GET without a body (RFC 9110 section 9.3.2) unless HEAD is declared on its own.
  return declared === "*" || declared === observed || (observed === "HEAD" && declared === "GET" && !methods.has("HEAD"));
}

function findDeclared(list: readonly Declared[], e: { method: string; path: string }, caseSensitive: boolean): Declared | undefined {
  const methods = new Set(list.filter((d) => covers(d.compiled, e.path, caseSensitive)).map((d) => d.endpoint.method));
  let best: Declared | undefined;
  for (const d of list) {
    if (!methodFits(d.endpoint.method, e.method, methods) || !covers(d.compiled, e.path, caseSensitive)) continue;
    if (best === undefined || d.compiled.literals > best.compiled.literals) best = d;
  }
  return best;
}

interface Found {
  /** Facts of the routes that served it and are still in the IR. */
  facts: RouteFacts[];
  /** Only when no route that served it is still in the IR (the policy changed): the rule that declares its path now. */
  inRules: Declared | undefined;
  inOpenApi: Declared | undefined;
}

function classOf({ facts, inRules, inOpenApi }: Found, hasDocument: boolean): { cls: EndpointClass; by?: string } {
  const retired = facts.find((f) => f.deprecated || f.sunset);
  if (retired) return { cls: "zombie", by: retired.name };
  if (inOpenApi?.endpoint.deprecated || inRules?.endpoint.deprecated) return { cls: "zombie", by: inOpenApi?.endpoint.deprecated ? "openapi" : inRules!.endpoint.declaredBy };
  const naming = facts.find((f) => f.role === "rule" && f.match !== "prefix");
  if (naming) return { cls: "documented", by: naming.name };
  if (inRules) return { cls: "documented", by: inRules.endpoint.declaredBy };
  if (inOpenApi) return { cls: "documented", by: "openapi" };
  const prefixRule = facts.find((f) => f.role === "rule");
  if (prefixRule && !hasDocument) return { cls: "documented", by: prefixRule.name };
  return { cls: "shadow" };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function observedEndpoint(e: ObservedEndpoint, cls: EndpointClass, by: string | undefined): InventoryEndpoint {
  return {
    method: e.method,
    path: e.path,
    class: cls,
    count: e.count,
    statuses: e.statuses,
    authenticated: e.authenticated,
    appVersions: e.appVersions,
    firstSeen: iso(e.firstSeenMs),
    lastSeen: iso(e.lastSeenMs),
    ...(by !== undefined ? { declaredBy: by } : {}),
  };
}

function unusedEndpoint(d: DeclaredEndpoint): InventoryEndpoint {
  return { method: d.method, path: d.path, class: "unused", count: 0, statuses: {}, authenticated: 0, appVersions: [], declaredBy: d.declaredBy };
}

/** The same endpoint declared twice (a rule and the document): one key, variable names aside. */
const shapeKey = (d: DeclaredEndpoint): string => `${d.method} ${compileTemplate(d.path).template.replace(/\{[^{}/]+\}/g, "{}")}`;

export function classifyWorkload(input: ClassifyInput): WorkloadInventory {
  const caseSensitive = input.caseSensitive ?? false;
  const facts = routeFactsByName(input.routes);
  const compile = (endpoint: DeclaredEndpoint): Declared => ({ endpoint, compiled: compileTemplate(endpoint.path, caseSensitive) });
  const rules = declaredByRoutes(input.routes).map(compile);
  const openapi = (input.openapi ?? []).map(compile);
  const called = new Set<Declared>();
  const endpoints = input.observed.endpoints.map((e) => {
    const seen = e.routes.flatMap((name) => facts.get(name) ?? []);
    const inOpenApi = findDeclared(openapi, e, caseSensitive);
    const inRules = findDeclared(rules, e, caseSensitive);
    for (const d of [inRules, inOpenApi]) if (d) called.add(d);
    const { cls, by } = classOf({ facts: seen, inRules: seen.length === 0 ? inRules : undefined, inOpenApi }, input.openapi !== undefined);
    return observedEndpoint(e, cls, by);
  });
  const unusedKeys = new Set<string>();
  for (const d of [...rules, ...openapi]) {
    if (called.has(d) || unusedKeys.has(shapeKey(d.endpoint))) continue;
    unusedKeys.add(shapeKey(d.endpoint));
    endpoints.push(unusedEndpoint(d.endpoint));
  }
  return {
    workload: input.observed.workload,
    policy: input.observed.policy,
    endpoints: endpoints.sort((a, b) => compareStrings(a.path, b.path) || compareStrings(a.method, b.method)),
    observed: input.observed.observed,
    dropped: input.observed.dropped,
  };
}

/** Endpoints per class, every class present. */
export function classCounts(inventories: readonly WorkloadInventory[]): Record<EndpointClass, number> {
  const counts: Record<EndpointClass, number> = { documented: 0, shadow: 0, zombie: 0, unused: 0 };
  for (const inv of inventories) for (const e of inv.endpoints) counts[e.class]++;
  return counts;
}
