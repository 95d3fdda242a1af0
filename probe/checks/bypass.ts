import { samplePath } from "../routes.js";
import type { CheckResult, Exchange } from "../types.js";
import {
  answered,
  bearer,
  checksOf,
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
  send,
  urlOf,
  type CheckContext,
  type CheckHead,
  type PlannedRoute,
} from "./context.js";

/**
 * Authorization bypass through equivalent forms: a request the sidecar refuses must stay refused
 * when the path or the method is written another way that a backend may take for the same thing.
 */

/** A request the sidecar must refuse on this route: no token, or user a's token on user b's object. */
interface Refused {
  path: string;
  method: string;
  headers: [string, string][];
  what: string;
}

function refusedRequest(ctx: CheckContext, p: PlannedRoute): Refused | undefined {
  const checks = checksOf(p.route);
  const [a, b] = ctx.plan.users;
  if (ownerOf(ctx, p.route)?.declared && a && b && !checks?.authz?.dpop)
    return { path: pathOwnedBy(ctx, p.route, b), method: p.method, headers: [bearer(a)], what: "user a's request for user b's object" };
  if (checks?.authentication === "Required") return { path: pathOwnedBy(ctx, p.route, b ?? a), method: p.method, headers: [], what: "a request without a token" };
  return undefined;
}

/** Segments after the first, in upper case, except variable values (kept, they name the object). */
function upperCase(path: string, keep: readonly string[]): string {
  return path
    .split("/")
    .map((s) => (keep.includes(s) ? s : s.toUpperCase()))
    .join("/");
}

/** `path` with `insert` after its first segment (`/v1` + insert + rest). */
function afterFirstSegment(path: string, insert: (rest: string) => string): string {
  const i = path.indexOf("/", 1);
  return i === -1 ? `${path}${insert("")}` : `${path.slice(0, i)}${insert(path.slice(i))}`;
}

interface Form {
  id: string;
  what: string;
  apply(r: Refused, values: string[]): Refused | undefined;
}

const forms: Form[] = [
  { id: "path-case", what: "the path in upper case", apply: (r, values) => ({ ...r, path: upperCase(r.path, values) }) },
  { id: "trailing-slash", what: "a trailing slash", apply: (r) => ({ ...r, path: `${r.path}/` }) },
  { id: "duplicate-slash", what: "a doubled slash", apply: (r) => ({ ...r, path: afterFirstSegment(r.path, (rest) => `/${rest}`) }) },
  { id: "encoded-slash", what: "a slash written %2F", apply: (r) => ({ ...r, path: afterFirstSegment(r.path, (rest) => rest.replace(/^\//, "%2F")) }) },
  { id: "dot-segment", what: "a dot segment (/x/../)", apply: (r) => ({ ...r, path: afterFirstSegment(r.path, (rest) => `/probe/..${rest}`) }) },
  { id: "matrix-parameter", what: "a matrix parameter (;x=1)", apply: (r) => ({ ...r, path: afterFirstSegment(r.path, (rest) => `;probe=1${rest}`) }) },
  { id: "head-for-get", what: "HEAD instead of GET", apply: (r) => (r.method === "GET" ? { ...r, method: "HEAD" } : undefined) },
];

function variableValues(ctx: CheckContext): string[] {
  return ["probe-1", ...ctx.plan.users.map((u) => String(u.claims.sub ?? ""))].map((v) => encodeURIComponent(v));
}

async function formCheck(ctx: CheckContext, p: PlannedRoute, base: Refused, form: Form): Promise<CheckResult> {
  const head: CheckHead = { id: `bypass/${form.id}`, checkClass: "bypass", title: `${base.what} stays refused with ${form.what} on ${p.rule}`, route: p.rule, severity: "high" };
  return guarded(head, async () => {
    const variant = form.apply(base, variableValues(ctx));
    if (!variant) throw new CouldNotRun(`not applicable: the route is not read with GET`);
    const ex = await send(ctx, { method: variant.method, url: urlOf(ctx.plan, variant.path), headers: variant.headers });
    if (answered(ex))
      return result(
        head,
        "failed",
        `answered ${describe(ex)}: ${form.what} gets ${base.what} past the check that refuses it.${landingNote(ctx, variant.method, variant.path, p.route)}`,
        [ex],
      );
    if (ex.status >= 400 && ex.status < 500) return result(head, "passed", `refused with ${describe(ex)}`, [ex]);
    if (ex.status >= 300 && ex.status < 400)
      return result(head, "passed", `redirected (${ex.status}) to ${ex.responseHeaders.location ?? "?"}: the plain form, which is refused`, [ex]);
    return result(head, "skipped", `inconclusive: answered ${describe(ex)}`, [ex]);
  });
}

async function duplicatedAuthorization(ctx: CheckContext, p: PlannedRoute): Promise<CheckResult> {
  const head: CheckHead = {
    id: "bypass/duplicated-header",
    checkClass: "bypass",
    title: `two Authorization headers are refused on ${p.rule}`,
    route: p.rule,
    severity: "medium",
  };
  return guarded(head, async () => {
    const [a, b] = ctx.plan.users;
    if (!a || !b) throw new CouldNotRun("could not run: needs tokens of two test users (--token-a and --token-b)");
    const ex: Exchange = await send(ctx, { method: p.method, url: urlOf(ctx.plan, pathOwnedBy(ctx, p.route, a)), headers: [bearer(a), bearer(b)] });
    if (answered(ex)) return result(head, "failed", `answered ${describe(ex)}: the sidecar and the app may each read another of the two tokens`, [ex]);
    return result(head, "passed", `refused with ${describe(ex)}`, [ex]);
  });
}

/** Headers through which frameworks let a request name another method than its own. */
const OVERRIDE_HEADERS = ["x-http-method-override", "x-http-method", "x-method-override"];

async function overrideRoute(ctx: CheckContext, p: PlannedRoute): Promise<CheckResult> {
  const head: CheckHead = {
    id: "bypass/method-override",
    checkClass: "bypass",
    title: `a GET with a method-override header to ${p.method} stays refused on ${p.rule}`,
    route: p.rule,
    severity: "high",
  };
  return guarded(head, async () => {
    const path = samplePath(p.route);
    const plain = await send(ctx, { method: p.method, url: urlOf(ctx.plan, path) });
    if (!refusedAccess(plain)) throw new CouldNotRun(`could not run: ${p.method} without a token is not refused by an access check (${describe(plain)})`);
    const sent: Exchange[] = [];
    for (const header of OVERRIDE_HEADERS) {
      const ex = await send(ctx, { method: "GET", url: urlOf(ctx.plan, path), headers: [[header, p.method]] });
      if (answered(ex))
        return result(head, "failed", `answered ${describe(ex)}: the app may run ${p.method} for a GET the sidecar judged as a GET.${landingNote(ctx, "GET", path, p.route)}`, [
          ex,
          plain,
        ]);
      sent.push(ex);
    }
    return result(head, "passed", `refused: ${sent.map((e) => describe(e)).join(", ")}`, sent);
  });
}

async function methodOverride(ctx: CheckContext): Promise<CheckResult[]> {
  const head: CheckHead = { id: "bypass/method-override", checkClass: "bypass", title: "method-override headers do not turn a GET into a refused method", severity: "high" };
  if (!ctx.client.allowsUnsafe()) return [result(head, "skipped", "could not run: an override header asks the app for an unsafe method (--allow-unsafe-methods)")];
  const routes = plannedRoutes(ctx).filter((p) => checksOf(p.route)?.authentication === "Required" && p.route.match.methods.length > 0 && !p.route.match.methods.includes("GET"));
  if (routes.length === 0) return [result(head, "skipped", "not applicable: no route that needs a token is limited to methods other than GET")];
  const out: CheckResult[] = [];
  for (const p of routes) out.push(await overrideRoute(ctx, p));
  return out;
}

export async function bypassChecks(ctx: CheckContext): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  for (const p of plannedRoutes(ctx)) {
    const base = refusedRequest(ctx, p);
    if (!base || !methodAllowed(ctx, p.method)) continue;
    // The plain form must be refused first; if it is not, authentication or BOLA already says so.
    const plain = await send(ctx, { method: base.method, url: urlOf(ctx.plan, base.path), headers: base.headers }).catch((error: unknown) => {
      if (error instanceof CouldNotRun) return undefined;
      throw error;
    });
    // Only a refusal by an access check says the route is protected; anything else (answered, 404, 400) leaves nothing to bypass.
    if (!plain || !refusedAccess(plain)) continue;
    for (const form of forms) out.push(await formCheck(ctx, p, base, form));
    if (checksOf(p.route)?.authentication === "Required" && !checksOf(p.route)?.authz?.dpop) out.push(await duplicatedAuthorization(ctx, p));
  }
  if (out.length === 0)
    out.push(
      result(
        { id: "bypass/path-forms", checkClass: "bypass", title: "refused requests stay refused in equivalent forms", severity: "high" },
        "skipped",
        "not applicable: no route refuses a request the probe can make (none needs a token, or each is already answered in its plain form)",
      ),
    );
  return [...out, ...(await methodOverride(ctx))];
}
