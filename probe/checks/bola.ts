import { ownerValue } from "../plan.js";
import type { CheckResult } from "../types.js";
import type { RouteIR } from "../../contract/ir.js";
import { documentedPath } from "../openapi.js";
import type { TestUser } from "../plan.js";
import { routeFor, ruleOf } from "../routes.js";
import {
  answered,
  CouldNotRun,
  describe,
  guarded,
  landingNote,
  methodAllowed,
  ownerOf,
  pathOwnedBy,
  plannedRoutes,
  refusedAccess,
  result,
  sendAs,
  twoUsers,
  urlOf,
  type CheckContext,
  type CheckHead,
  type PlannedRoute,
} from "./context.js";

/**
 * BOLA: user a's token on user b's objects. The objects come from the ownership rules, and from
 * path variables named like an owner (`--owner-param`, default userId, user_id, uid, accountId,
 * ownerId) on routes that have no ownership rule — the rule someone forgot.
 */

interface CrossUser {
  head: CheckHead;
  route: RouteIR;
  method: string;
  claim: string;
  /** The path of `user`'s object. */
  pathFor: (user: TestUser) => string;
  /** Why user a got through, when they did. */
  why: string;
}

/** User a on their own object (it must be answered, or a refusal proves nothing), then on user b's. */
async function crossUser(ctx: CheckContext, c: CrossUser): Promise<CheckResult> {
  return guarded(c.head, async () => {
    const [a, b] = twoUsers(ctx);
    if (!methodAllowed(ctx, c.method)) throw new CouldNotRun(`could not run: the route takes only ${c.route.match.methods.join(", ")} (--allow-unsafe-methods)`);
    const av = ownerValue(a, c.claim);
    const bv = ownerValue(b, c.claim);
    if (av === undefined || bv === undefined || av === bv) throw new CouldNotRun(`could not run: the two users' tokens need different values of claim ${c.claim}`);
    const own = (await sendAs(ctx, a, c.route, { method: c.method, url: urlOf(ctx.plan, c.pathFor(a)) })).exchange;
    if (!answered(own)) throw new CouldNotRun(`could not run: user a's request for their own object is refused (${describe(own)}), so a refusal of b's proves nothing`);
    const othersPath = c.pathFor(b);
    const cross = (await sendAs(ctx, a, c.route, { method: c.method, url: urlOf(ctx.plan, othersPath) })).exchange;
    if (refusedAccess(cross)) return result(c.head, "passed", `user a's request for user b's object was refused with ${describe(cross)}`, [cross, own]);
    if (!answered(cross)) return result(c.head, "skipped", `inconclusive: user b's object answered ${describe(cross)}`, [cross, own]);
    return result(c.head, "failed", `user a read user b's object (${describe(cross)}): ${c.why}${landingNote(ctx, c.method, othersPath, c.route)}`, [cross, own]);
  });
}

function routeBola(ctx: CheckContext, p: PlannedRoute, owner: { param: string; claim: string; declared: boolean }): Promise<CheckResult> {
  return crossUser(ctx, {
    head: {
      id: owner.declared ? "bola/ownership-rule" : "bola/missing-ownership-rule",
      checkClass: "bola",
      title: `user a cannot read user b's objects on ${p.rule} ({${owner.param}} against claim ${owner.claim})`,
      route: p.rule,
      severity: "critical",
    },
    route: p.route,
    method: p.method,
    claim: owner.claim,
    pathFor: (user) => pathOwnedBy(ctx, p.route, user),
    why: owner.declared
      ? "the ownership rule is not enforced on this request."
      : `no ownership rule covers {${owner.param}}: add ownership: {pathParam: ${owner.param}, claim: ${owner.claim}} to the rule.`,
  });
}

/**
 * Objects the OpenAPI document shows that the policy's templates do not: a documented path with a
 * variable named like an owner that lands on a rule without that variable (a prefix rule, a
 * catch-all). Its other variables take the document's examples.
 */
function documentedObjects(ctx: CheckContext): (() => Promise<CheckResult>)[] {
  const out: (() => Promise<CheckResult>)[] = [];
  const covered = new Set<string>();
  for (const doc of ctx.plan.openapi?.paths ?? []) {
    const param = [...doc.template.matchAll(/\{([^}]+)\}/g)].map((m) => m[1] ?? "").find((v) => ctx.plan.ownerParams.includes(v));
    const method = doc.methods.find((m) => m === "GET") ?? doc.methods[0] ?? "GET";
    if (!param || !methodAllowed(ctx, method)) continue;
    const route = routeFor(ctx.plan.workload.routes, method, documentedPath(doc));
    if (!route || route.action.kind !== "forward" || ownerOf(ctx, route) || covered.has(doc.template)) continue;
    covered.add(doc.template);
    out.push(() =>
      crossUser(ctx, {
        head: {
          id: "bola/openapi-objects",
          checkClass: "bola",
          title: `user a cannot read user b's objects on ${doc.template} (documented in ${ctx.plan.openapi?.source ?? "the OpenAPI document"}; {${param}} against claim sub)`,
          route: ruleOf(route),
          severity: "critical",
        },
        route,
        method,
        claim: "sub",
        pathFor: (user) => documentedPath(doc, { [param]: ownerValue(user, "sub") ?? "probe-1" }),
        why: `the document's {${param}} lands on ${ruleOf(route)}, which checks no owner: declare ${doc.template} as a rule with ownership: {pathParam: ${param}}.`,
      }),
    );
  }
  return out;
}

export async function bolaChecks(ctx: CheckContext): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  for (const p of plannedRoutes(ctx)) {
    const owner = ownerOf(ctx, p.route);
    if (owner) out.push(await routeBola(ctx, p, owner));
  }
  if (out.length === 0)
    out.push(
      result(
        { id: "bola/ownership-rule", checkClass: "bola", title: "users cannot read each other's objects", severity: "critical" },
        "skipped",
        "not applicable: no route has an ownership rule or a path variable named like an owner (--owner-param)",
      ),
    );
  const documented = documentedObjects(ctx);
  for (const check of documented) out.push(await check());
  if (documented.length === 0)
    out.push(
      result(
        { id: "bola/openapi-objects", checkClass: "bola", title: "objects the OpenAPI document shows under rules that check no owner", severity: "critical" },
        "skipped",
        ctx.plan.openapi
          ? "not applicable: no documented path with a variable named like an owner (--owner-param) lands on a rule without an ownership check"
          : "could not run: give the app's OpenAPI document (--openapi FILE)",
      ),
    );
  return out;
}
