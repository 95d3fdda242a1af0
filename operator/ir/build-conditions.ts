import type { Rule } from "../api/v1alpha1/policy.js";
import type { ConditionsIR } from "../../contract/ir.js";
import { compareStrings } from "../../common/order.js";

function sortedEntries(map: Readonly<Record<string, readonly string[]>> | undefined, lower: boolean): { name: string; values: string[] }[] {
  return Object.entries(map ?? {})
    .map(([name, values]) => ({ name: lower ? name.toLowerCase() : name, values: [...values].sort(compareStrings) }))
    .sort((a, b) => compareStrings(a.name, b.name));
}

/** A rule's `when` as the sidecar checks it: header names lowercase, every list sorted. */
export function buildConditions(rule: Rule): ConditionsIR | undefined {
  const when = rule.when;
  if (!when) return undefined;
  return { headers: sortedEntries(when.headers, true), notHeaders: sortedEntries(when.notHeaders, true), notClaims: sortedEntries(when.notClaims, false) };
}
