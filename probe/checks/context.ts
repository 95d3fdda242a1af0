import { errorMessage } from "../../common/errors.js";
import { BoundsError, SAFE_METHODS, type ProbeClient, type ProbeRequest } from "../client.js";
import { ownerValue, type ProbePlan, type TestUser } from "../plan.js";
import { routeFor, ruleOf, samplePath } from "../routes.js";
import type { IssuerKey } from "../tokens.js";
import { dpopProof, type DpopKey } from "../dpop.js";
import type { CheckClass, CheckResult, Exchange, Outcome, Severity } from "../types.js";
import type { RouteIR } from "../../contract/ir.js";

/** What every check gets: the plan, the only client, and the test issuer's key when given. */
export interface CheckContext {
  plan: ProbePlan;
  client: ProbeClient;
  issuerKey?: IssuerKey;
}

export interface CheckHead {
  id: string;
  checkClass: CheckClass;
  title: string;
  route?: string;
  severity: Severity;
}

export function result(head: CheckHead, outcome: Outcome, reason: string, evidence: Exchange[] = []): CheckResult {
  return { ...head, outcome, reason, evidence };
}

/** The target's URL for `path`, the path kept exactly as written. */
export function urlOf(plan: ProbePlan, path: string): string {
  const base = plan.target.href.replace(/\/+$/, "");
  return `${base}${path}`;
}

/** Thrown by `send` when the bounds refuse a request: the check reports that it could not run, and why. */
export class CouldNotRun extends Error {}

/** Sends through the bounded client with the app headers (or `appHeaders` instead); a request the bounds refuse becomes CouldNotRun. */
export async function send(ctx: CheckContext, req: ProbeRequest & { appHeaders?: [string, string][] }): Promise<Exchange> {
  try {
    return await ctx.client.send({
      method: req.method ?? "GET",
      url: req.url,
      headers: [...(req.appHeaders ?? ctx.plan.appHeaders), ...(req.headers ?? [])],
      ...(req.body !== undefined ? { body: req.body } : {}),
    });
  } catch (error) {
    if (error instanceof BoundsError) throw new CouldNotRun(`could not run: ${error.message}`);
    throw error;
  }
}

/** Runs `body`; a CouldNotRun (bounds, missing input) becomes a skipped result with its reason. */
export async function guarded(head: CheckHead, body: () => Promise<CheckResult>): Promise<CheckResult> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof CouldNotRun) return result(head, "skipped", error.message);
    return result(head, "skipped", `could not run: ${errorMessage(error)}`);
  }
}

export function bearer(user: TestUser): [string, string] {
  return ["authorization", `Bearer ${user.token}`];
}

/** Whether `route` needs DPoP proofs (sender-constrained tokens). */
export function needsDpop(route: RouteIR): boolean {
  return checksOf(route)?.authz?.dpop === true;
}

/**
 * `user`'s request on `route`: with a Bearer token, or — where the route needs DPoP — a DPoP token
 * and a fresh proof (`proofKey` instead of the user's key, or `proof` itself to send one again),
 * retried once with the server's nonce when it asks for one.
 */
export async function sendAs(
  ctx: CheckContext,
  user: TestUser,
  route: RouteIR,
  req: { method: string; url: string; headers?: [string, string][]; proofKey?: DpopKey; proof?: string },
): Promise<{ exchange: Exchange; proof?: string }> {
  if (!needsDpop(route)) return { exchange: await send(ctx, { method: req.method, url: req.url, headers: [bearer(user), ...(req.headers ?? [])] }) };
  const key = req.proofKey ?? user.dpopKey;
  if (!key) throw new CouldNotRun(`could not run: the route needs DPoP proofs; give user ${user.name}'s key with --dpop-key-${user.name}`);
  const attempt = async (proof: string): Promise<Exchange> =>
    send(ctx, { method: req.method, url: req.url, headers: [["authorization", `DPoP ${user.token}`], ["dpop", proof], ...(req.headers ?? [])] });
  let proof = req.proof ?? (await dpopProof(key, { method: req.method, url: req.url, accessToken: user.token }));
  let exchange = await attempt(proof);
  const nonce = exchange.responseHeaders["dpop-nonce"];
  if (exchange.status === 401 && nonce && req.proof === undefined) {
    proof = await dpopProof(key, { method: req.method, url: req.url, accessToken: user.token, nonce });
    exchange = await attempt(proof);
  }
  return { exchange, proof };
}

/** 2xx: the request got past every check to the app (or to what answers in its place). */
export function answered(ex: Exchange): boolean {
  return ex.status >= 200 && ex.status < 300;
}

/** Refused by an authentication or authorization check. */
export function refusedAccess(ex: Exchange): boolean {
  return ex.status === 401 || ex.status === 403;
}

export function describe(ex: Exchange): string {
  const reason = ex.responseHeaders["x-bulwark-reason"];
  return ex.error ? `no answer (${ex.error})` : `${ex.status}${reason ? ` (${reason})` : ""}`;
}

/** A route the probe can exercise: a rule's route (the last of a deprecation split), with the method it uses. */
export interface PlannedRoute {
  route: RouteIR;
  rule: string;
  method: string;
}

/** The policy's rules as routes, in match order, each with a method the bounds allow (GET first); the default action's catch-all left out. */
export function plannedRoutes(ctx: CheckContext): PlannedRoute[] {
  const byRule = new Map<string, RouteIR>();
  for (const route of ctx.plan.workload.routes) {
    if (route.action.kind !== "forward" || route.name.endsWith("/default") || route.name.includes("/default/")) continue;
    byRule.set(ruleOf(route), route);
  }
  const planned: PlannedRoute[] = [];
  for (const [rule, route] of byRule) {
    const methods = route.match.methods.length === 0 ? ["GET"] : route.match.methods;
    const method = methods.find((m) => m === "GET") ?? methods.find((m) => SAFE_METHODS.includes(m)) ?? methods[0];
    if (method) planned.push({ route, rule, method });
  }
  return planned;
}

export function checksOf(route: RouteIR): Extract<RouteIR["action"], { kind: "forward" }>["checks"] | undefined {
  return route.action.kind === "forward" ? route.action.checks : undefined;
}

/** The owner variable of a route and the claim it must equal: the ownership rule's, or a variable named like an owner (`--owner-param`, claim `sub`). */
export function ownerOf(ctx: CheckContext, route: RouteIR): { param: string; claim: string; declared: boolean } | undefined {
  const ownership = checksOf(route)?.authz?.ownership;
  if (ownership) return { param: ownership.pathParam, claim: ownership.claim, declared: true };
  if (route.match.path.kind !== "template") return undefined;
  const param = route.match.path.variables.find((v) => ctx.plan.ownerParams.includes(v));
  return param ? { param, claim: "sub", declared: false } : undefined;
}

/** A path of `route` whose owner variable names `user`'s object (other variables from the OpenAPI document's examples, else `probe-1`). */
export function pathOwnedBy(ctx: CheckContext, route: RouteIR, user: TestUser | undefined): string {
  const owner = ownerOf(ctx, route);
  const value = owner && user ? ownerValue(user, owner.claim) : undefined;
  return samplePath(route, { ...documentedExamples(ctx, route), ...(owner && value !== undefined ? { [owner.param]: value } : {}) });
}

const shapeOf = (template: string): string => template.replace(/\{[^}]*\}/g, "{}").toLowerCase();
const variablesOf = (template: string): string[] => [...template.matchAll(/\{([A-Za-z_][A-Za-z0-9_]*)[^}]*\}/g)].map((m) => m[1] ?? "");

/** The first example of each of `route`'s template variables in the OpenAPI document (the path of the same shape, matched by position). */
export function documentedExamples(ctx: CheckContext, route: RouteIR): Record<string, string> {
  const m = route.match.path;
  if (m.kind !== "template" || !ctx.plan.openapi) return {};
  const doc = ctx.plan.openapi.paths.find((p) => shapeOf(p.template) === shapeOf(m.template));
  if (!doc) return {};
  const ours = variablesOf(m.template);
  const theirs = variablesOf(doc.template);
  const out: Record<string, string> = {};
  ours.forEach((name, i) => {
    const example = doc.examples[theirs[i] ?? ""]?.[0];
    if (example !== undefined) out[name] = example;
  });
  return out;
}

/** User a and user b, or CouldNotRun. */
export function twoUsers(ctx: CheckContext): [TestUser, TestUser] {
  const [a, b] = ctx.plan.users;
  if (!a || !b) throw new CouldNotRun("could not run: needs tokens of two test users (--token-a and --token-b)");
  return [a, b];
}

export function firstUser(ctx: CheckContext): TestUser {
  const a = ctx.plan.users[0];
  if (!a) throw new CouldNotRun("could not run: needs a token of a test user (--token-a)");
  return a;
}

/** Whether the bounds let the probe use `method`. */
export function methodAllowed(ctx: CheckContext, method: string): boolean {
  return SAFE_METHODS.includes(method) || ctx.client.allowsUnsafe();
}

/** When a request for `route` lands on another route, a sentence saying which (and that it shadows `route` when it comes first); otherwise "". */
export function landingNote(ctx: CheckContext, method: string, path: string, route: RouteIR): string {
  const routes = ctx.plan.workload.routes;
  const landed = routeFor(routes, method, path);
  if (!landed || ruleOf(landed) === ruleOf(route)) return "";
  if (routes.indexOf(landed) < routes.indexOf(route)) return ` The request lands on ${ruleOf(landed)}, which comes before ${ruleOf(route)} in the policy: that rule shadows it.`;
  return ` The request lands on ${ruleOf(landed)} instead of ${ruleOf(route)}.`;
}
