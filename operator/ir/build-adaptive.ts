import type { AdaptiveResponse } from "../api/v1alpha1/adaptive-response.js";
import { durationSeconds } from "../api/v1alpha1/common.js";
import type { AdaptiveIR, AdaptiveRuleIR } from "../../contract/ir.js";
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
