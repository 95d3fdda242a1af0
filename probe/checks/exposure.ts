import { SAFE_METHODS } from "../client.js";
import { isCatchAll, routeFor, ruleOf, samplePath } from "../routes.js";
import type { CheckResult, Exchange } from "../types.js";
import type { RouteIR } from "../../contract/ir.js";
import { documentedPath } from "../openapi.js";
import { answered, checksOf, describe, guarded, methodAllowed, plannedRoutes, result, send, urlOf, type CheckContext, type CheckHead } from "./context.js";

/**
 * Exposure: paths no rule declares that the app answers anyway (shadow endpoints), and the app
 * reachable around the sidecar — a Service port among the files that targets the app's port, or
 * an address given with --direct-url that answers a protected route without a token.
 */

/** Paths debug builds, frameworks and forgotten versions leave behind. */
export const DEFAULT_SHADOW_PATHS = [
  "/internal/debug",
  "/debug/vars",
  "/debug/pprof/",
  "/admin",
  "/actuator/env",
  "/actuator/health",
  "/metrics",
  "/.env",
  "/swagger.json",
  "/openapi.json",
  "/graphql",
  "/v0/users",
  "/api/internal/users",
  "/test",
];

/** A shadow path the probe may ask about: one no rule declares (it falls to the default action or a catch-all rule). */
function undeclared(ctx: CheckContext, path: string): boolean {
  const route = routeFor(ctx.plan.workload.routes, "GET", path);
  return route === undefined || isCatchAll(route);
}

async function shadowEndpoints(ctx: CheckContext): Promise<CheckResult> {
  const head: CheckHead = { id: "exposure/shadow-endpoints", checkClass: "exposure", title: "paths no rule declares are not answered (shadow endpoints)", severity: "high" };
  return guarded(head, async () => {
    const paths = ctx.plan.shadowPaths.filter((p) => undeclared(ctx, p));
    const found: Exchange[] = [];
    const refused: Exchange[] = [];
    const unclear: Exchange[] = [];
    for (const path of paths) {
      const ex = await send(ctx, { url: `${ctx.plan.target.href.replace(/\/+$/, "")}${path}` });
      (answered(ex) ? found : [401, 403, 404, 405, 410].includes(ex.status) ? refused : unclear).push(ex);
    }
    if (found.length > 0) {
      const catchAll = ctx.plan.workload.routes.find((r) => isCatchAll(r) && r.action.kind === "forward");
      const via = catchAll ? ` They reach the app through ${ruleOf(catchAll)}; list the app's real paths in rules and set defaultAction: Deny.` : "";
      return result(head, "failed", `the app answers ${found.length} undeclared path(s): ${found.map((e) => new URL(e.url).pathname).join(", ")}.${via}`, found);
    }
    if (paths.length === 0) return result(head, "skipped", "not applicable: every candidate path is declared by a rule");
    if (unclear.length > 0)
      return result(head, "skipped", `inconclusive: ${unclear.length} path(s) answered neither 2xx nor a refusal (${describe(unclear[0] as Exchange)})`, unclear.slice(0, 3));
    return result(head, "passed", `${paths.length} undeclared path(s) asked, none answered (${[...new Set(refused.map((e) => e.status))].join(", ")})`, refused.slice(0, 3));
  });
}

function staticBypass(ctx: CheckContext): CheckResult {
  const head: CheckHead = {
    id: "exposure/service-bypasses-sidecar",
    checkClass: "exposure",
    title: "no Service port among the files reaches the app past its sidecar",
    severity: "critical",
  };
  if (ctx.plan.placeholder)
    return result(head, "skipped", "could not run: the objects read hold no Pod of the policy, so which port is the app's is unknown (add the Pods, or use --direct-url)");
  const bypass = ctx.plan.resolved.sidecarBypass;
  if (bypass) return result(head, "failed", bypass.message);
  return result(head, "passed", "every Service port that selects the policy's pods targets the sidecar");
}

/** A protected route's path: what an address past the sidecar would answer without a token. */
function protectedPath(ctx: CheckContext): string | undefined {
  const route = ctx.plan.workload.routes.find(
    (r) => checksOf(r)?.authentication === "Required" && (r.match.methods.length === 0 || r.match.methods.some((m) => SAFE_METHODS.includes(m))),
  );
  return route ? samplePath(route) : undefined;
}

async function directAddress(ctx: CheckContext, base: string): Promise<CheckResult> {
  const head: CheckHead = {
    id: "exposure/app-reachable-directly",
    checkClass: "exposure",
    title: `${base} does not answer a protected route without a token`,
    severity: "critical",
  };
  return guarded(head, async () => {
    const path = protectedPath(ctx) ?? "/";
    const ex = await send(ctx, { url: `${base.replace(/\/+$/, "")}${path}` });
    if (answered(ex)) return result(head, "failed", `answered ${describe(ex)} without a token: the app is reachable around the sidecar`, [ex]);
    if (ex.status === 0) return result(head, "passed", `no answer (${ex.error ?? "refused"})`, [ex]);
    return result(head, "passed", `refused with ${describe(ex)}`, [ex]);
  });
}

/**
 * Paths the app's OpenAPI document declares and no rule does: the sidecar's default action must
 * hide them (a request is refused), since the policy never decided who may call them.
 */
async function documentedUndeclared(ctx: CheckContext): Promise<CheckResult> {
  const head: CheckHead = {
    id: "exposure/openapi-undeclared",
    checkClass: "exposure",
    title: "paths the OpenAPI document declares and no rule does are refused",
    severity: "high",
  };
  const doc = ctx.plan.openapi;
  if (!doc) return result(head, "skipped", "could not run: give the app's OpenAPI document (--openapi FILE)");
  return guarded(head, async () => {
    const found: Exchange[] = [];
    const refused: Exchange[] = [];
    const unclear: Exchange[] = [];
    const unsent: string[] = [];
    for (const p of doc.paths) {
      const path = documentedPath(p);
      for (const method of p.methods) {
        // Declared: some rule other than a catch-all takes it (even one shadowed by a rule before it, which other checks report).
        if (ctx.plan.workload.routes.some((r) => !isCatchAll(r) && routeFor([r], method, path))) continue;
        if (!methodAllowed(ctx, method)) {
          unsent.push(`${method} ${p.template}`);
          continue;
        }
        const ex = await send(ctx, { method, url: urlOf(ctx.plan, path) });
        (answered(ex) ? found : [401, 403, 404, 405, 410].includes(ex.status) ? refused : unclear).push(ex);
      }
    }
    const skipped = unsent.length ? ` Not sent (unsafe methods; --allow-unsafe-methods): ${unsent.join(", ")}.` : "";
    if (found.length > 0) {
      const catchAll = ctx.plan.workload.routes.find((r) => isCatchAll(r) && r.action.kind === "forward");
      const via = catchAll ? ` They reach the app through ${ruleOf(catchAll)}.` : "";
      const list = found.map((e) => `${e.method} ${new URL(e.url).pathname}`).join(", ");
      return result(
        head,
        "failed",
        `the app answers ${found.length} documented path(s) no rule declares: ${list}. Declare them as rules (with the protection they need) or remove them.${via}${skipped}`,
        found,
      );
    }
    if (refused.length + unclear.length === 0)
      return result(head, "skipped", unsent.length ? `could not run:${skipped}` : `not applicable: every path of ${doc.source} is declared by a rule`);
    if (unclear.length > 0)
      return result(
        head,
        "skipped",
        `inconclusive: ${unclear.length} path(s) answered neither 2xx nor a refusal (${describe(unclear[0] as Exchange)}).${skipped}`,
        unclear.slice(0, 3),
      );
    return result(
      head,
      "passed",
      `${refused.length} documented path(s) no rule declares were refused (${[...new Set(refused.map((e) => e.status))].join(", ")}).${skipped}`,
      refused.slice(0, 3),
    );
  });
}

/** Rules whose paths the document does not show: not a flaw by itself (info), but a policy and an app that drifted apart. */
function undocumentedRules(ctx: CheckContext): CheckResult {
  const head: CheckHead = { id: "exposure/openapi-undocumented-rules", checkClass: "exposure", title: "every rule's path is in the OpenAPI document", severity: "info" };
  const doc = ctx.plan.openapi;
  if (!doc) return result(head, "skipped", "could not run: give the app's OpenAPI document (--openapi FILE)");
  const matched = new Set<string>();
  for (const p of doc.paths)
    for (const method of p.methods) {
      for (const route of ctx.plan.workload.routes) if (routeFor([route], method, documentedPath(p))) matched.add(ruleOf(route));
    }
  const missing = plannedRoutes(ctx).filter((p) => !isCatchAll(p.route) && !matched.has(p.rule));
  if (missing.length === 0) return result(head, "passed", `every rule matches a path of ${doc.source}`);
  const list = missing.map((p) => `${p.rule.replace(/^.*\/rule\//, "")} (${describePath(p.route)})`).join(", ");
  return result(head, "failed", `${missing.length} rule(s) match no path of ${doc.source}: ${list}. A renamed or removed endpoint, or a document that is behind.`);
}

function describePath(route: RouteIR): string {
  const m = route.match.path;
  return m.kind === "exact" ? m.path : m.kind === "prefix" ? `${m.prefix}…` : m.template;
}

export async function exposureChecks(ctx: CheckContext): Promise<CheckResult[]> {
  const out: CheckResult[] = [await shadowEndpoints(ctx), await documentedUndeclared(ctx), undocumentedRules(ctx), staticBypass(ctx)];
  for (const url of ctx.plan.directUrls) out.push(await directAddress(ctx, url));
  if (ctx.plan.directUrls.length === 0)
    out.push(
      result(
        { id: "exposure/app-reachable-directly", checkClass: "exposure", title: "the app does not answer around the sidecar", severity: "critical" },
        "skipped",
        "could not run: give the app's other addresses (a Service's ClusterIP port, a pod's app port) with --direct-url",
      ),
    );
  return out;
}
