import type { AdaptiveResponse } from "../api/v1alpha1/adaptive-response.js";
import { durationSeconds } from "../api/v1alpha1/common.js";
import type { AdaptiveIR, AdaptiveRuleIR, AuthzChecksIR, RouteIR } from "../../contract/ir.js";
import { compareStrings } from "../../common/order.js";

/** spec.adaptiveResponse → the workload's AdaptiveIR (rules sorted by signal, then identity). */
export function buildAdaptive(spec: AdaptiveResponse | undefined): AdaptiveIR | undefined {
  if (!spec) return undefined;
  const rules = spec.rules
    .map((r): AdaptiveRuleIR => ({
      signal: r.signal,
      identity: r.identity,
      action: r.action,
      ttlSeconds: durationSeconds(r.duration),
      ...(r.limit ? { requests: r.limit.requests, windowSeconds: durationSeconds(r.limit.per) } : {}),
      mode: r.mode,
    }))
    .sort((a, b) => compareStrings(a.signal, b.signal) || compareStrings(a.identity, b.identity));
  return { ...(spec.deviceHeader ? { deviceHeader: spec.deviceHeader.toLowerCase() } : {}), failureMode: spec.failureMode, rules };
}

/** Checks of a route that had none for bulwark authz: only the adaptive lookup. */
const ADAPTIVE_ONLY: AuthzChecksIR = { dpop: false, certificateBound: false, appAttestation: false, minAppVersion: false, adaptive: true };

/**
 * With an adaptive response, every forward route calls bulwark authz (a flagged identity is
 * refused on every route, not only on those that had authz checks): each gets `authz.adaptive`.
 * Direct responses (the default 404, 410 after sunset) are left as they are.
 */
export function withAdaptiveChecks(routes: RouteIR[], adaptive: AdaptiveIR | undefined): RouteIR[] {
  if (!adaptive) return routes;
  return routes.map((route) => {
    if (route.action.kind !== "forward") return route;
    const authz: AuthzChecksIR = route.action.checks.authz ? { ...route.action.checks.authz, adaptive: true } : ADAPTIVE_ONLY;
    return { ...route, action: { ...route.action, checks: { ...route.action.checks, authz } } };
  });
}
