import { signedVariant, tamperedToken, unsignedToken, type SignedVariant } from "../tokens.js";
import type { CheckResult, Exchange, Severity } from "../types.js";
import { senderConstraintChecks } from "./sender-constraint.js";
import {
  answered,
  checksOf,
  CouldNotRun,
  describe,
  guarded,
  landingNote,
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
 * Authentication: on every route that needs a token, the tokens an attacker has — none, a
 * tampered one, an unsigned one, and (with a test issuer's key) expired, not yet valid, for
 * another audience, older than maxTokenAge — are refused, while user a's own token gets through.
 */

interface Variant {
  id: string;
  what: string;
  severity: Severity;
  /** Only on routes where authentication is Required (Optional routes take requests without a token). */
  requiredOnly?: boolean;
  /** The Authorization header to send; throws CouldNotRun when the probe lacks what it needs. */
  header(ctx: CheckContext): Promise<[string, string][]>;
}

function userA(ctx: CheckContext): NonNullable<CheckContext["plan"]["users"][number]> {
  const a = ctx.plan.users[0];
  if (!a) throw new CouldNotRun("could not run: needs a token of a test user (--token-a)");
  return a;
}

function signed(variant: SignedVariant, what: string, severity: Severity): Variant {
  return {
    id: variant,
    what,
    severity,
    header: async (ctx) => {
      if (!ctx.issuerKey) throw new CouldNotRun("could not run: needs a test issuer's signing key (--issuer-key) to sign such a token");
      const maxAge = ctx.plan.workload.jwtProviders.find((p) => p.maxLifetimeSeconds !== undefined)?.maxLifetimeSeconds;
      if (variant === "too-old" && maxAge === undefined) throw new CouldNotRun("not applicable: no provider of the policy sets maxTokenAge");
      const a = userA(ctx);
      return [["authorization", `Bearer ${await signedVariant(ctx.issuerKey, a.claims, variant, maxAge)}`]];
    },
  };
}

const variants: Variant[] = [
  { id: "missing-token", what: "a request without a token", severity: "critical", requiredOnly: true, header: () => Promise.resolve([]) },
  {
    id: "tampered-token",
    what: "user a's token with its claims changed, signed by another key",
    severity: "critical",
    header: async (ctx) => [["authorization", `Bearer ${await tamperedToken(userA(ctx).token, userA(ctx).claims)}`]],
  },
  {
    id: "alg-none",
    what: "user a's claims in an unsigned token (alg: none)",
    severity: "critical",
    header: (ctx) => Promise.resolve([["authorization", `Bearer ${unsignedToken(userA(ctx).claims)}`]]),
  },
  signed("expired", "an expired token of the issuer", "high"),
  signed("not-yet-valid", "a token of the issuer that is not valid yet (nbf)", "high"),
  signed("wrong-audience", "a token of the issuer for another audience", "high"),
  signed("too-old", "a token of the issuer issued longer ago than maxTokenAge", "medium"),
];

function verdict(head: CheckHead, ex: Exchange, control: Exchange | undefined, note: string): CheckResult {
  if (refusedAccess(ex)) return result(head, "passed", `refused with ${describe(ex)}`, [ex]);
  if (answered(ex)) return result(head, "failed", `accepted: answered ${describe(ex)}.${note}`, control ? [ex, control] : [ex]);
  return result(head, "skipped", `inconclusive: answered ${describe(ex)}, neither a refusal nor an answer of the app`, [ex]);
}

/** User a's own request on the route: it must reach the app, or refusals prove nothing. */
async function controlOf(ctx: CheckContext, p: PlannedRoute): Promise<Exchange | undefined> {
  const a = ctx.plan.users[0];
  if (!a || (needsDpop(p.route) && !a.dpopKey)) return undefined;
  return (await sendAs(ctx, a, p.route, { method: p.method, url: urlOf(ctx.plan, pathOwnedBy(ctx, p.route, a)) })).exchange;
}

async function routeChecks(ctx: CheckContext, p: PlannedRoute): Promise<CheckResult[]> {
  const checks = checksOf(p.route);
  const out: CheckResult[] = [];
  const path = pathOwnedBy(ctx, p.route, ctx.plan.users[0]);
  let control: Exchange | undefined;
  try {
    control = await controlOf(ctx, p);
  } catch (error) {
    if (!(error instanceof CouldNotRun)) throw error;
  }
  const controlRefused = control !== undefined && !answered(control);
  for (const v of variants) {
    if (v.requiredOnly && checks?.authentication !== "Required") continue;
    const head: CheckHead = { id: `authentication/${v.id}`, checkClass: "authentication", title: `${v.what} is refused on ${p.rule}`, route: p.rule, severity: v.severity };
    out.push(
      await guarded(head, async () => {
        if (controlRefused && v.id !== "missing-token") throw new CouldNotRun(`could not run: user a's own token is refused here too (${describe(control as Exchange)})`);
        const ex = await send(ctx, { method: p.method, url: urlOf(ctx.plan, path), headers: await v.header(ctx) });
        return verdict(head, ex, control, landingNote(ctx, p.method, path, p.route));
      }),
    );
  }
  return out;
}

export async function authenticationChecks(ctx: CheckContext): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  for (const p of plannedRoutes(ctx)) {
    if (checksOf(p.route)?.authentication === "None") continue;
    if (!methodAllowed(ctx, p.method)) {
      const head: CheckHead = { id: "authentication/route", checkClass: "authentication", title: `tokens are checked on ${p.rule}`, route: p.rule, severity: "high" };
      out.push(result(head, "skipped", `could not run: the route takes only ${p.route.match.methods.join(", ")} (--allow-unsafe-methods)`));
      continue;
    }
    out.push(...(await routeChecks(ctx, p)));
  }
  if (out.length === 0)
    out.push(
      result(
        { id: "authentication/route", checkClass: "authentication", title: "tokens are checked", severity: "high" },
        "skipped",
        "not applicable: no rule of the policy needs a token",
      ),
    );
  return [...out, ...(await senderConstraintChecks(ctx))];
}
