import type { ClientAddress } from "../api/v1alpha1/client-address.js";
import type { Rule } from "../api/v1alpha1/policy.js";
import type { ClientAddressIR, ClientCidrsIR } from "../../contract/ir.js";

/**
 * A validated spec.clientAddress (or the controller's flags) as the IR states it. The header
 * X-Forwarded-For means its rightmost entry: one trusted hop from the declared proxies.
 */
export function buildClientAddress(spec: ClientAddress): ClientAddressIR {
  const cidrs = spec.trustedCIDRs ? [...spec.trustedCIDRs] : undefined;
  if (spec.header !== undefined) {
    const header = spec.header.toLowerCase();
    if (header === "x-forwarded-for") return { from: "forwardedFor", trustedHops: 1, trustedCIDRs: cidrs ?? [] };
    return { from: "header", header, trustedCIDRs: cidrs ?? [] };
  }
  const hops = spec.trustedHops ?? 0;
  if (hops === 0) return { from: "peer" };
  return { from: "forwardedFor", trustedHops: hops, ...(cidrs ? { trustedCIDRs: cidrs } : {}) };
}

export function buildClientCidrs(rule: Rule): ClientCidrsIR | undefined {
  const cidrs = rule.clientCIDRs;
  return cidrs ? { allow: [...(cidrs.allow ?? [])], deny: [...(cidrs.deny ?? [])] } : undefined;
}
