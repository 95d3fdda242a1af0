import type { Rule } from "../api/v1alpha1/policy.js";
import type { CallerIR } from "../../contract/ir.js";
import { compareStrings } from "../../common/order.js";

/** A rule's callers with their namespaces resolved (the policy's when absent), sorted, each once. */
export function buildCallers(rule: Rule, policyNamespace: string): CallerIR[] | undefined {
  if (!rule.callers) return undefined;
  const seen = new Map<string, CallerIR>();
  for (const c of rule.callers) {
    const caller: CallerIR = { namespace: c.namespace ?? policyNamespace, ...(c.serviceAccount !== undefined ? { serviceAccount: c.serviceAccount } : {}) };
    seen.set(`${caller.namespace}/${caller.serviceAccount ?? ""}`, caller);
  }
  return [...seen.entries()].sort(([a], [b]) => compareStrings(a, b)).map(([, c]) => c);
}
