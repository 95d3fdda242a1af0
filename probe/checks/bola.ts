import { ownerValue } from "../plan.js";
import type { CheckResult } from "../types.js";
import { NOT_IMPLEMENTED } from "../types.js";
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

async function routeBola(ctx: CheckContext, p: PlannedRoute, owner: { param: string; claim: string; declared: boolean }): Promise<CheckResult> {
  const head: CheckHead = {
    id: owner.declared ? "bola/ownership-rule" : "bola/missing-ownership-rule",
    checkClass: "bola",
    title: `user a cannot read user b's objects on ${p.rule} ({${owner.param}} against claim ${owner.claim})`,
    route: p.rule,
    severity: "critical",
  };
  return guarded(head, async () => {
    const [a, b] = twoUsers(ctx);
    if (!methodAllowed(ctx, p.method)) throw new CouldNotRun(`could not run: the route takes only ${p.route.match.methods.join(", ")} (--allow-unsafe-methods)`);
    const av = ownerValue(a, owner.claim);
    const bv = ownerValue(b, owner.claim);
    if (av === undefined || bv === undefined || av === bv) throw new CouldNotRun(`could not run: the two users' tokens need different values of claim ${owner.claim}`);
    const own = (await sendAs(ctx, a, p.route, { method: p.method, url: urlOf(ctx.plan, pathOwnedBy(ctx, p.route, a)) })).exchange;
    if (!answered(own)) throw new CouldNotRun(`could not run: user a's request for their own object is refused (${describe(own)}), so a refusal of b's proves nothing`);
    const othersPath = pathOwnedBy(ctx, p.route, b);
    const cross = (await sendAs(ctx, a, p.route, { method: p.method, url: urlOf(ctx.plan, othersPath) })).exchange;
    if (refusedAccess(cross)) return result(head, "passed", `user a's request for user b's object was refused with ${describe(cross)}`, [cross, own]);
    if (!answered(cross)) return result(head, "skipped", `inconclusive: user b's object answered ${describe(cross)}`, [cross, own]);
    const why = owner.declared
      ? "the ownership rule is not enforced on this request."
      : `no ownership rule covers {${owner.param}}: add ownership: {pathParam: ${owner.param}, claim: ${owner.claim}} to the rule.`;
    return result(head, "failed", `user a read user b's object (${describe(cross)}): ${why}${landingNote(ctx, p.method, othersPath, p.route)}`, [cross, own]);
  });
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
  out.push(
    result({ id: "bola/openapi-objects", checkClass: "bola", title: "objects from an OpenAPI document or the API inventory", severity: "critical" }, "skipped", NOT_IMPLEMENTED),
  );
  return out;
}
