import type { RouteIR } from "../../contract/ir.js";
import { ruleOf, samplePath } from "../routes.js";
import type { CheckResult } from "../types.js";
import { answered, bearer, checksOf, CouldNotRun, describe, guarded, plannedRoutes, result, send, urlOf, type CheckContext, type CheckHead } from "./context.js";

/**
 * Versions and lifecycle: an outdated app build gets 426, routes inside a deprecation window carry
 * the headers the policy declares (Deprecation, Sunset, Link), and retired prefixes answer 410.
 */

/** Headers for a request that must pass authentication on `route`: user a's token where one is needed. */
function credentials(ctx: CheckContext, route: RouteIR): [string, string][] {
  const checks = checksOf(route);
  if (!checks || checks.authentication === "None") return [];
  const a = ctx.plan.users[0];
  if (!a) throw new CouldNotRun("could not run: the route needs a token (--token-a)");
  if (checks.authz?.dpop)
    throw new CouldNotRun("could not run: the route needs DPoP proofs; sending them here is not implemented in this version (only the authentication and BOLA checks sign proofs)");
  return [bearer(a)];
}

async function outdatedApp(ctx: CheckContext): Promise<CheckResult> {
  const gate = ctx.plan.workload.minAppVersion;
  const head: CheckHead = { id: "lifecycle/outdated-app", checkClass: "lifecycle", title: "an outdated app build gets 426 Upgrade Required", severity: "high" };
  if (!gate) return result(head, "skipped", "not applicable: the policy sets no minimum app version");
  return guarded(head, async () => {
    const candidates = plannedRoutes(ctx).filter((p) => checksOf(p.route)?.authz?.minAppVersion && p.method === "GET");
    const p = candidates.find((c) => checksOf(c.route)?.authentication === "None") ?? candidates[0];
    if (!p) throw new CouldNotRun("could not run: no GET route of the policy checks the app version");
    const platform = ctx.plan.appHeaders.find(([n]) => n === gate.platformHeader)?.[1] ?? "ios";
    const ex = await send(ctx, {
      url: urlOf(ctx.plan, samplePath(p.route)),
      headers: credentials(ctx, p.route),
      appHeaders: [
        [gate.header, "0.0.1"],
        [gate.platformHeader, platform],
      ],
    });
    const scoped = { ...head, route: p.rule };
    if (ex.status === 426) return result(scoped, "passed", `version 0.0.1 on ${platform} refused with ${describe(ex)}`, [ex]);
    if (answered(ex)) return result(scoped, "failed", `version 0.0.1 on ${platform} was answered ${describe(ex)}; the minimum is ${gate.minimum}`, [ex]);
    return result(scoped, "skipped", `inconclusive: version 0.0.1 answered ${describe(ex)}`, [ex]);
  });
}

async function deprecationHeaders(ctx: CheckContext, route: RouteIR & { action: { kind: "forward" } }): Promise<CheckResult> {
  const head: CheckHead = {
    id: "lifecycle/deprecation-headers",
    checkClass: "lifecycle",
    title: `${route.action.responseHeaders.map((h) => h.name).join(", ")} present on ${ruleOf(route)}`,
    route: ruleOf(route),
    severity: "low",
  };
  return guarded(head, async () => {
    const method = route.match.methods.length === 0 || route.match.methods.includes("GET") ? "GET" : undefined;
    if (!method) throw new CouldNotRun(`could not run: the route takes only ${route.match.methods.join(", ")}`);
    const ex = await send(ctx, { url: urlOf(ctx.plan, samplePath(route)), headers: credentials(ctx, route) });
    if (ex.status === 0 || ex.status >= 500) return result(head, "skipped", `inconclusive: answered ${describe(ex)}`, [ex]);
    const missing = route.action.responseHeaders.filter((h) => ex.responseHeaders[h.name] === undefined).map((h) => h.name);
    if (missing.length > 0) return result(head, "failed", `answered ${describe(ex)} without ${missing.join(", ")}: apps are not told the API is going away`, [ex]);
    return result(head, "passed", `answered ${describe(ex)} with ${route.action.responseHeaders.map((h) => `${h.name}: ${ex.responseHeaders[h.name] ?? ""}`).join("; ")}`, [ex]);
  });
}

async function retired(ctx: CheckContext, route: RouteIR & { action: { kind: "respond" } }): Promise<CheckResult> {
  const head: CheckHead = {
    id: "lifecycle/retired-410",
    checkClass: "lifecycle",
    title: `the retired ${samplePath(route)} answers 410 Gone`,
    route: route.name,
    severity: "medium",
  };
  return guarded(head, async () => {
    const ex = await send(ctx, { url: urlOf(ctx.plan, samplePath(route)) });
    if (ex.status === 410) return result(head, "passed", `answered ${describe(ex)}`, [ex]);
    if (answered(ex)) return result(head, "failed", `the retired API still answers (${describe(ex)})`, [ex]);
    return result(head, "skipped", `inconclusive: answered ${describe(ex)}`, [ex]);
  });
}

const isDeprecated = (r: RouteIR): r is RouteIR & { action: { kind: "forward" } } =>
  r.action.kind === "forward" && r.action.responseHeaders.some((h) => h.name === "deprecation") && !r.name.endsWith("/default");
const isRetired = (r: RouteIR): r is RouteIR & { action: { kind: "respond" } } => r.action.kind === "respond" && r.action.status === 410;

export async function lifecycleChecks(ctx: CheckContext): Promise<CheckResult[]> {
  const out: CheckResult[] = [await outdatedApp(ctx)];
  const routes = ctx.plan.workload.routes;
  for (const r of routes.filter(isDeprecated)) out.push(await deprecationHeaders(ctx, r));
  for (const r of routes.filter(isRetired)) out.push(await retired(ctx, r));
  if (!routes.some(isDeprecated) && !routes.some(isRetired))
    out.push(
      result(
        { id: "lifecycle/deprecations", checkClass: "lifecycle", title: "deprecated and retired APIs are announced", severity: "low" },
        "skipped",
        "not applicable: the policy declares no deprecation",
      ),
    );
  return out;
}
