import { z } from "zod";
import { boundedDuration, dnsLabel } from "./common.js";
import { setList, withRules } from "./validation.js";

/** `clientIP`, `header:<name>`, `claim:<name>` or `pathParam:<name>`. */
export const rateLimitKeyPattern = /^(clientIP|header:[A-Za-z0-9][A-Za-z0-9-]{0,63}|claim:[A-Za-z_][A-Za-z0-9_:/.-]{0,127}|pathParam:[A-Za-z_][A-Za-z0-9_]{0,63})$/;

/** Keys on headers that carry a client address: budgets a client escapes by rewriting them. */
const addressHeaderKey = /^header:(x-forwarded-for|forwarded|x-real-ip|x-envoy-external-address|cf-connecting-ip|true-client-ip|x-client-ip)$/;

const keyPart = withRules(z.string().max(140), "One part of the key: clientIP, header:<name>, claim:<name> or pathParam:<name>.", [
  {
    cel: `self.matches(r"${rateLimitKeyPattern.source}")`,
    message: "must be clientIP, header:<header-name>, claim:<claim-name> or pathParam:<template-variable>",
    holds: (v) => rateLimitKeyPattern.test(v),
  },
  {
    cel: `!self.lowerAscii().matches(r"${addressHeaderKey.source}")`,
    message: "a client-address header is written by the client (or by proxies Bulwark may not trust): use clientIP, and spec.clientAddress to say which proxies to believe",
    holds: (v) => !addressHeaderKey.test(v.toLowerCase()),
  },
]);

export const rateLimit = withRules(
  z
    .object({
      name: dnsLabel("Name of the limit, unique within the rule; used in metrics, logs and refusal reasons."),
      key: z
        .array(keyPart)
        .min(1)
        .max(4)
        .meta({
          description:
            "What one budget belongs to, for scope Global (required there): requests that share all parts of the key share a budget. A request that lacks a part (no such header, claim or parameter) is counted under an empty value for it. Not allowed with scope Local, whose budget is the route's in each sidecar.",
          "x-kubernetes-list-type": "atomic",
        })
        .optional(),
      limit: z
        .object({
          requests: z.number().int().min(1).max(1_000_000_000).describe("Requests allowed per window; at least 1."),
          per: boundedDuration({ description: "Length of the window, from 1s to 7 days (168h).", min: "1s", max: "168h" }),
        })
        .strict()
        .meta({ description: "The budget: so many requests per window." }),
      scope: z
        .enum(["Global", "Local"])
        .default("Global")
        .describe(
          "Global: budgets per key shared by every replica, kept by bulwark ratelimit (Redis). Local: one token bucket per route in each sidecar, with no network hop, to shield the backend from overload.",
        ),
      counts: z
        .object({
          responseCodes: setList(z.number().int().min(100).max(599).describe("An HTTP status code."), {
            min: 1,
            max: 16,
            description: "Only responses with these status codes spend the budget, e.g. [401, 403] on a login route.",
          }),
        })
        .strict()
        .meta({
          description:
            "Count outcomes instead of requests: only responses with these codes spend the budget, and once it is spent further requests with the key are refused before they reach the backend. Needs scope Global.",
        })
        .optional(),
      mode: z.enum(["Enforce", "Shadow"]).default("Enforce").describe("Enforce refuses with 429; Shadow only reports (metrics and logs) what would have been refused."),
      failureMode: z
        .enum(["Allow", "Deny"])
        .default("Allow")
        .describe("What a Global limit does when the rate-limit service cannot be reached: Allow lets requests through, Deny refuses them."),
      responseHeaders: z
        .enum(["Standard", "None"])
        .default("Standard")
        .describe("Standard sends RateLimit and Retry-After headers; None hides the limit from clients (useful against attackers probing thresholds)."),
    })
    .strict(),
  "A request budget for the rule.",
  [
    {
      cel: "!has(self.counts) || self.scope == 'Global'",
      message: "counts (outcome-aware budgets) needs scope Global: outcomes are counted by bulwark ratelimit",
      fieldPath: ".counts",
      holds: (v) => v.counts === undefined || v.scope === "Global",
    },
    {
      cel: "self.scope == 'Global' ? has(self.key) : !has(self.key)",
      message: "scope Global needs a key (what a budget belongs to); scope Local has one budget per route in each sidecar and takes no key",
      fieldPath: ".key",
      holds: (v) => (v.scope === "Global" ? v.key !== undefined : v.key === undefined),
    },
    {
      cel: "self.scope == 'Global' || self.failureMode == 'Allow'",
      message: "failureMode Deny needs scope Global: a Local limit has no service that can fail",
      fieldPath: ".failureMode",
      holds: (v) => v.scope === "Global" || v.failureMode === "Allow",
    },
    {
      cel: "!has(self.key) || self.key.all(k, self.key.exists_one(o, o == k))",
      message: "key parts must be unique",
      fieldPath: ".key",
      holds: (v) => v.key === undefined || new Set(v.key).size === v.key.length,
    },
  ],
);
