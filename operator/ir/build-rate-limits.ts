import { durationSeconds } from "../api/v1alpha1/common.js";
import type { Rule } from "../api/v1alpha1/policy.js";
import type { GlobalRateLimitIR, LocalRateLimitIR, PathMeaningIR, RateLimitKeyPartIR } from "../../contract/ir.js";

function keyPart(part: string, template: string | undefined, meaning: PathMeaningIR | undefined): RateLimitKeyPartIR {
  if (part === "clientIP") return { kind: "clientIP" };
  const [source, ...rest] = part.split(":");
  const name = rest.join(":");
  switch (source) {
    case "header":
      return { kind: "header", header: name.toLowerCase() };
    case "claim":
      return { kind: "claim", claim: name };
    default:
      // The schema admits pathParam only for a variable of the rule's template.
      return { kind: "pathParam", param: name, template: template ?? "", ...(meaning ? { meaning } : {}) };
  }
}

export function buildRateLimits(rule: Rule, routeName: string, meaning?: PathMeaningIR): { local?: LocalRateLimitIR; global: GlobalRateLimitIR[] } {
  const limits = rule.rateLimits ?? [];
  const local = limits.find((l) => l.scope === "Local");
  const global = limits
    .filter((l) => l.scope === "Global")
    .map((l): GlobalRateLimitIR => ({
      name: `${routeName}/ratelimit/${l.name}`,
      key: (l.key ?? []).map((k) => keyPart(k, rule.match.pathTemplate, meaning)),
      requests: l.limit.requests,
      windowSeconds: durationSeconds(l.limit.per),
      shadow: l.mode === "Shadow",
      failureMode: l.failureMode,
      responseHeaders: l.responseHeaders === "Standard",
      ...(l.counts ? { countedResponseCodes: [...l.counts.responseCodes].sort((a, b) => a - b) } : {}),
    }));
  return {
    ...(local
      ? {
          local: {
            name: `${routeName}/ratelimit/${local.name}`,
            requests: local.limit.requests,
            windowSeconds: durationSeconds(local.limit.per),
            shadow: local.mode === "Shadow",
            responseHeaders: local.responseHeaders === "Standard",
          },
        }
      : {}),
    global,
  };
}
