import { setTimeout as sleep } from "node:timers/promises";
import { samplePath } from "../routes.js";
import type { GlobalRateLimitIR, LocalRateLimitIR } from "../../contract/ir.js";
import type { CheckResult, Exchange } from "../types.js";
import {
  bearer,
  checksOf,
  describe,
  CouldNotRun,
  guarded,
  methodAllowed,
  plannedRoutes,
  result,
  send,
  urlOf,
  type CheckContext,
  type CheckHead,
  type PlannedRoute,
} from "./context.js";

/**
 * Rate limits: a budget is honoured (the request after it is refused with 429), a budget per
 * client address cannot be escaped by forging X-Forwarded-For or a similar header, and a
 * failed-login budget (one that counts only some answers) counts failures only.
 */

/** The most requests the probe spends on one budget: larger budgets are reported as not checked. */
export const MAX_BUDGET_PROBED = 50;

/** Headers a client writes that name an address: a budget keyed on one of them is a budget the client picks. */
const ADDRESS_HEADERS = ["x-forwarded-for", "x-real-ip", "forwarded", "true-client-ip", "cf-connecting-ip", "x-client-ip"];

type Limit = { kind: "global"; limit: GlobalRateLimitIR } | { kind: "local"; limit: LocalRateLimitIR };

function limitsOf(p: PlannedRoute): Limit[] {
  const checks = checksOf(p.route);
  if (!checks) return [];
  const limits: Limit[] = checks.globalRateLimits.filter((l) => !l.shadow).map((limit) => ({ kind: "global", limit }));
  if (checks.localRateLimit && !checks.localRateLimit.shadow) limits.push({ kind: "local", limit: checks.localRateLimit });
  return limits;
}

function limitName(l: Limit): string {
  return l.limit.name.replace(/^.*\/ratelimit\//, "");
}

/** Headers that keep one identity for the limit's key: user a's token, a fixed device id, a fixed forwarded address. */
function identityHeaders(ctx: CheckContext, p: PlannedRoute, l: Limit, address: string): [string, string][] {
  const headers: [string, string][] = [];
  const a = ctx.plan.users[0];
  if (checksOf(p.route)?.authentication !== "None") {
    if (!a) throw new CouldNotRun("could not run: the route needs a token (--token-a)");
    if (checksOf(p.route)?.authz?.dpop)
      throw new CouldNotRun(
        "could not run: the route needs DPoP proofs; sending them here is not implemented in this version (only the authentication and BOLA checks sign proofs)",
      );
    headers.push(bearer(a));
  }
  headers.push(["x-forwarded-for", address]);
  const source = ctx.plan.workload.listener.clientAddress;
  if (source?.from === "header" && source.header !== "x-forwarded-for") headers.push([source.header, address]);
  if (l.kind === "global")
    for (const part of l.limit.key)
      if (part.kind === "header" && part.header.toLowerCase() !== "x-forwarded-for")
        headers.push([part.header, ADDRESS_HEADERS.includes(part.header.toLowerCase()) ? address : "probe-device"]);
  return headers;
}

function bounded(ctx: CheckContext, p: PlannedRoute, l: Limit): void {
  if (!methodAllowed(ctx, p.method)) throw new CouldNotRun(`could not run: the route takes only ${p.route.match.methods.join(", ")} (--allow-unsafe-methods)`);
  if (l.limit.requests > MAX_BUDGET_PROBED)
    throw new CouldNotRun(`could not run: the budget of ${l.limit.requests} requests is above what the probe spends on one (${MAX_BUDGET_PROBED})`);
  if (l.limit.requests + 1 > ctx.client.remaining()) throw new CouldNotRun(`could not run: the budget needs ${l.limit.requests + 1} requests, more than --max-requests leaves`);
}

async function budgetHonoured(ctx: CheckContext, p: PlannedRoute, l: Limit): Promise<CheckResult> {
  const head: CheckHead = {
    id: "rate-limits/budget",
    checkClass: "rate-limits",
    title: `budget ${limitName(l)} (${l.limit.requests} per ${l.limit.windowSeconds}s) is honoured on ${p.rule}`,
    route: p.rule,
    severity: "medium",
  };
  return guarded(head, async () => {
    bounded(ctx, p, l);
    const headers = identityHeaders(ctx, p, l, "203.0.113.10");
    const sent: Exchange[] = [];
    for (let i = 0; i <= l.limit.requests; i++) {
      const ex = await send(ctx, { method: p.method, url: urlOf(ctx.plan, pathOf(p)), headers });
      sent.push(ex);
      if (ex.status === 429) return result(head, "passed", `refused with 429 after ${i} answered request(s) from one client`, [ex]);
    }
    return result(head, "failed", `${sent.length} requests from one client within the window, none refused with 429`, sent.slice(-2));
  });
}

function pathOf(p: PlannedRoute): string {
  return samplePath(p.route);
}

async function addressNotSpoofable(ctx: CheckContext, p: PlannedRoute, l: Extract<Limit, { kind: "global" }>): Promise<CheckResult> {
  const head: CheckHead = {
    id: "rate-limits/forged-address",
    checkClass: "rate-limits",
    title: `budget ${limitName(l)} per client address cannot be escaped with a forged X-Forwarded-For on ${p.rule}`,
    route: p.rule,
    severity: "high",
  };
  return guarded(head, async () => {
    bounded(ctx, p, l);
    let through = 0;
    const sent: Exchange[] = [];
    for (let i = 0; i <= l.limit.requests; i++) {
      const ex = await send(ctx, { method: p.method, url: urlOf(ctx.plan, pathOf(p)), headers: identityHeaders(ctx, p, l, `198.51.100.${(i % 250) + 1}`) });
      sent.push(ex);
      if (ex.status !== 429) through += 1;
    }
    const why = forgedWhy(ctx, l);
    if (through > l.limit.requests)
      return result(
        head,
        "failed",
        `${through} of ${sent.length} requests with a different forged X-Forwarded-For each got through a budget of ${l.limit.requests}.${why}`,
        sent.slice(-2),
      );
    return result(head, "passed", `${through} of ${sent.length} requests got through; the rest were refused with 429 whatever X-Forwarded-For said`, sent.slice(-1));
  });
}

/** Why a forged header moves the budget: the key or the policy's clientAddress believes what the client writes. */
function forgedWhy(ctx: CheckContext, l: Extract<Limit, { kind: "global" }>): string {
  const headers = l.limit.key.flatMap((k) => (k.kind === "header" && ADDRESS_HEADERS.includes(k.header.toLowerCase()) ? [k.header] : []));
  if (headers.length) return ` The budget is keyed on ${headers.join(", ")}, a header the client writes: key it on clientIP instead.`;
  const source = ctx.plan.workload.listener.clientAddress;
  if (source && source.from !== "peer" && !source.trustedCIDRs?.length)
    return ` The policy's clientAddress believes ${source.from === "header" ? source.header : "X-Forwarded-For"} from any peer: add trustedCIDRs (the proxies in front of the pods), or take the TCP peer.`;
  return " The client's address is taken from what the client writes (the installation's --client-address settings or a proxy that passes X-Forwarded-For on).";
}

function keyedOnAddress(l: Limit): l is Extract<Limit, { kind: "global" }> {
  return l.kind === "global" && l.limit.key.some((k) => k.kind === "clientIP" || (k.kind === "header" && ADDRESS_HEADERS.includes(k.header.toLowerCase())));
}

/** How long the probe waits for an outcome to reach the counter: bulwark ratelimit counts a response one round trip after it. */
export const OUTCOME_LAG_MS = 500;

function isSuccess(ex: Exchange): boolean {
  return ex.status >= 200 && ex.status < 300;
}

/**
 * A failed-login budget (one that counts only some answers, e.g. 401) counts failures only:
 * (a) more successful logins than the budget are all answered, (b) after `budget` failures the
 * next request is refused with 429. The successes go first: a budget that counts them is then
 * spent, which is the finding.
 */
async function failedLoginBudget(ctx: CheckContext, p: PlannedRoute, l: Extract<Limit, { kind: "global" }>): Promise<CheckResult> {
  const counted = l.limit.countedResponseCodes ?? [];
  const head: CheckHead = {
    id: "rate-limits/failed-login-budget",
    checkClass: "rate-limits",
    title: `budget ${limitName(l)} (${l.limit.requests} answers ${counted.join(", ")} per ${l.limit.windowSeconds}s) counts failures only on ${p.rule}`,
    route: p.rule,
    severity: "medium",
  };
  return guarded(head, async () => {
    if (!methodAllowed(ctx, p.method)) throw new CouldNotRun(`could not run: a login is a ${p.method}, not a safe method (--allow-unsafe-methods)`);
    if (l.limit.requests > MAX_BUDGET_PROBED)
      throw new CouldNotRun(`could not run: the budget of ${l.limit.requests} is above what the probe spends on one (${MAX_BUDGET_PROBED})`);
    if (2 * l.limit.requests + 2 > ctx.client.remaining())
      throw new CouldNotRun(`could not run: the check needs ${2 * l.limit.requests + 2} requests, more than --max-requests leaves`);
    const needsToken = checksOf(p.route)?.authentication !== "None";
    if (ctx.plan.loginBody === undefined && !(needsToken && ctx.plan.users[0]))
      throw new CouldNotRun("could not run: needs a way to log in successfully: --login-body (or --token-a on a route that needs a token)");
    const headers = identityHeaders(ctx, p, l, "203.0.113.20");
    const url = urlOf(ctx.plan, pathOf(p));
    const login = (body: string | undefined): Promise<Exchange> =>
      send(ctx, { method: p.method, url, headers: body === undefined ? headers : [...headers, ["content-type", "application/json"]], ...(body === undefined ? {} : { body }) });
    // (a) budget + 1 successful logins, the last after the counter has caught up: none refused.
    const successes: Exchange[] = [];
    for (let i = 0; i <= l.limit.requests; i++) {
      if (i === l.limit.requests) await sleep(OUTCOME_LAG_MS);
      const ex = await login(ctx.plan.loginBody);
      successes.push(ex);
      if (i === 0 && !isSuccess(ex)) throw new CouldNotRun(`could not run: the successful login answered ${describe(ex)} (give a --login-body that logs in)`);
      if (ex.status === 429)
        return result(
          head,
          "failed",
          `successful logins spend the budget: login number ${i + 1} was refused with 429 after ${i} answered. A legitimate user is locked out; count only failures (counts.responseCodes: [401]).`,
          [ex, successes[0] as Exchange],
        );
    }
    // (b) budget failures, then one more after the counter has caught up: refused with 429.
    const failures: Exchange[] = [];
    for (let i = 0; i <= l.limit.requests; i++) {
      if (i === l.limit.requests) await sleep(OUTCOME_LAG_MS);
      const ex = await login(ctx.plan.loginFailureBody ?? "{}");
      failures.push(ex);
      if (ex.status === 429)
        return i === l.limit.requests
          ? result(head, "passed", `${successes.length} successful logins all answered; after ${i} failed ones the next was refused with 429`, [
              ex,
              failures[0] as Exchange,
              successes.at(-1) as Exchange,
            ])
          : result(head, "skipped", `inconclusive: refused with 429 after only ${i} failed login(s) (another client shares the key, or the window already held failures)`, [ex]);
      if (i === 0 && !counted.includes(ex.status))
        throw new CouldNotRun(
          `could not run: the failed login answered ${describe(ex)}, which the budget does not count (${counted.join(", ")}): give a --login-failure-body that fails as a wrong password does`,
        );
    }
    return result(
      head,
      "failed",
      `${failures.length} failed logins (${describe(failures[0] as Exchange)}) from one client, none refused with 429: failures do not spend the budget`,
      failures.slice(-2),
    );
  });
}

export async function rateLimitChecks(ctx: CheckContext): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  for (const p of plannedRoutes(ctx)) {
    for (const l of limitsOf(p)) {
      if (l.kind === "global" && l.limit.countedResponseCodes) {
        out.push(await failedLoginBudget(ctx, p, l));
        continue;
      }
      // The forged-address check first: the budget check then spends what is left of the window.
      if (keyedOnAddress(l)) out.push(await addressNotSpoofable(ctx, p, l));
      out.push(await budgetHonoured(ctx, p, l));
    }
  }
  if (out.length === 0)
    out.push(
      result(
        { id: "rate-limits/budget", checkClass: "rate-limits", title: "budgets are honoured", severity: "medium" },
        "skipped",
        "not applicable: the policy declares no rate limit",
      ),
    );
  if (!out.some((r) => r.id === "rate-limits/failed-login-budget"))
    out.push(
      result(
        { id: "rate-limits/failed-login-budget", checkClass: "rate-limits", title: "failed-login budgets count failures only", severity: "medium" },
        "skipped",
        "not applicable: no budget counts only some answers (counts.responseCodes)",
      ),
    );
  return out;
}
