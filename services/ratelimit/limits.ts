import type { GlobalRateLimitIR, IR } from "../../contract/ir.js";

/** The Global limits of a translation, indexed the way the service looks them up. */
export interface LimitIndex {
  /** By the limit's name: the descriptor's `limit` entry. */
  byName: ReadonlyMap<string, GlobalRateLimitIR>;
  /** Outcome-aware limits (countedResponseCodes) by the name of the Envoy route they sit on. */
  countedByRoute: ReadonlyMap<string, readonly GlobalRateLimitIR[]>;
}

export const emptyLimitIndex: LimitIndex = { byName: new Map(), countedByRoute: new Map() };

export function indexLimits(ir: IR): LimitIndex {
  const byName = new Map<string, GlobalRateLimitIR>();
  const countedByRoute = new Map<string, GlobalRateLimitIR[]>();
  for (const workload of ir.workloads) {
    for (const route of workload.routes) {
      if (route.action.kind !== "forward") continue;
      for (const limit of route.action.checks.globalRateLimits) {
        byName.set(limit.name, limit);
        if (!limit.countedResponseCodes) continue;
        const list = countedByRoute.get(route.name) ?? [];
        if (!list.some((l) => l.name === limit.name)) list.push(limit);
        countedByRoute.set(route.name, list);
      }
    }
  }
  return { byName, countedByRoute };
}
