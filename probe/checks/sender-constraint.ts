import { otherDpopKey } from "../dpop.js";
import type { CheckResult } from "../types.js";
import {
  answered,
  bearer,
  CouldNotRun,
  describe,
  firstUser,
  guarded,
  methodAllowed,
  needsDpop,
  pathOwnedBy,
  plannedRoutes,
  refusedAccess,
  result,
  send,
  sendAs,
  urlOf,
  type CheckContext,
  type CheckHead,
  type PlannedRoute,
} from "./context.js";

/**
 * Sender-constrained tokens (DPoP, RFC 9449): a bound token sent as a plain Bearer token, a proof
 * sent a second time, and the token with a proof from another key — what a thief on another
 * device has — are refused, while user a's own request with a fresh proof gets through.
 */

async function downgrade(ctx: CheckContext, p: PlannedRoute, path: string): Promise<CheckResult> {
  const head: CheckHead = {
    id: "authentication/dpop-downgrade",
    checkClass: "authentication",
    title: `a DPoP-bound token sent as Bearer without a proof is refused on ${p.rule}`,
    route: p.rule,
    severity: "high",
  };
  return guarded(head, async () => {
    if (!ctx.plan.workload.senderConstraint?.dpop?.required) throw new CouldNotRun("not applicable: the policy makes DPoP optional (senderConstraint.dpop.required is false)");
    const ex = await send(ctx, { method: p.method, url: urlOf(ctx.plan, path), headers: [bearer(firstUser(ctx))] });
    if (refusedAccess(ex)) return result(head, "passed", `refused with ${describe(ex)}`, [ex]);
    if (answered(ex)) return result(head, "failed", `answered ${describe(ex)}: a token stolen without its key works as a Bearer token`, [ex]);
    return result(head, "skipped", `inconclusive: answered ${describe(ex)}`, [ex]);
  });
}

/** User a's own request with a fresh proof must get through, or refusals of the others prove nothing. */
async function control(ctx: CheckContext, p: PlannedRoute, url: string): Promise<{ proof: string; exchange: CheckResult["evidence"][number] }> {
  const sent = await sendAs(ctx, firstUser(ctx), p.route, { method: p.method, url });
  if (!answered(sent.exchange) || sent.proof === undefined) throw new CouldNotRun(`could not run: user a's own request with a fresh proof is refused (${describe(sent.exchange)})`);
  return { proof: sent.proof, exchange: sent.exchange };
}

async function replayed(ctx: CheckContext, p: PlannedRoute, url: string): Promise<CheckResult> {
  const head: CheckHead = {
    id: "authentication/dpop-replayed-proof",
    checkClass: "authentication",
    title: `a DPoP proof sent a second time is refused on ${p.rule}`,
    route: p.rule,
    severity: "high",
  };
  return guarded(head, async () => {
    const first = await control(ctx, p, url);
    const again = await sendAs(ctx, firstUser(ctx), p.route, { method: p.method, url, proof: first.proof });
    if (refusedAccess(again.exchange)) return result(head, "passed", `the second use was refused with ${describe(again.exchange)}`, [again.exchange, first.exchange]);
    if (answered(again.exchange))
      return result(head, "failed", `the same proof was accepted twice (${describe(again.exchange)}): a captured request can be replayed`, [again.exchange, first.exchange]);
    return result(head, "skipped", `inconclusive: answered ${describe(again.exchange)}`, [again.exchange]);
  });
}

async function otherKey(ctx: CheckContext, p: PlannedRoute, url: string): Promise<CheckResult> {
  const head: CheckHead = {
    id: "authentication/dpop-other-key",
    checkClass: "authentication",
    title: `user a's token with a proof from another device's key is refused on ${p.rule}`,
    route: p.rule,
    severity: "critical",
  };
  return guarded(head, async () => {
    const own = await control(ctx, p, url);
    const stolen = await sendAs(ctx, firstUser(ctx), p.route, { method: p.method, url, proofKey: await otherDpopKey() });
    if (refusedAccess(stolen.exchange)) return result(head, "passed", `refused with ${describe(stolen.exchange)}`, [stolen.exchange, own.exchange]);
    if (answered(stolen.exchange))
      return result(head, "failed", `answered ${describe(stolen.exchange)}: a stolen token works from another device`, [stolen.exchange, own.exchange]);
    return result(head, "skipped", `inconclusive: answered ${describe(stolen.exchange)}`, [stolen.exchange]);
  });
}

export async function senderConstraintChecks(ctx: CheckContext): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  for (const p of plannedRoutes(ctx).filter((r) => needsDpop(r.route) && methodAllowed(ctx, r.method))) {
    const url = urlOf(ctx.plan, pathOwnedBy(ctx, p.route, ctx.plan.users[0]));
    out.push(await downgrade(ctx, p, pathOwnedBy(ctx, p.route, ctx.plan.users[0])), await replayed(ctx, p, url), await otherKey(ctx, p, url));
  }
  if (out.length > 0) return out;
  const why = "not applicable: no route binds tokens to a key with DPoP (senderConstraint.dpop); a stolen Bearer token works wherever the policy allows Bearer tokens";
  return [
    ["dpop-downgrade", "a DPoP-bound token sent as Bearer is refused"],
    ["dpop-replayed-proof", "a DPoP proof sent a second time is refused"],
    ["dpop-other-key", "a token with a proof from another device's key is refused"],
  ].map(([id, title]) => result({ id: `authentication/${id ?? ""}`, checkClass: "authentication", title: title ?? "", severity: "high" }, "skipped", why));
}
