import { z } from "zod";
import { boundedDuration, httpHeaderName } from "./common.js";
import { withRules } from "./validation.js";

/**
 * spec.adaptiveResponse: what happens to a client address, device or account that an abuse
 * signal (bulwark telemetry) flags. bulwark authz enforces it on every forward route of the
 * policy's workloads, from the actions kept in Redis (shared by its replicas).
 */

/** The signals that name an identity (FailedAuthSpike is about a whole workload: nobody to act on). */
export const ADAPTIVE_SIGNALS = ["CredentialStuffing", "CardTesting", "Enumeration", "Scraping", "ImpossibleTravel", "ReplayedProof", "AttestationFailure"] as const;

export const ADAPTIVE_IDENTITIES = ["ClientAddress", "Device", "Account"] as const;

const signalsAllowed = ADAPTIVE_SIGNALS.join(", ");

export const adaptiveRule = withRules(
  z
    .object({
      signal: z
        .enum(ADAPTIVE_SIGNALS)
        .describe(`The abuse signal whose firings this rule acts on: ${signalsAllowed} (FailedAuthSpike is workload-wide: it names no identity to act on).`),
      identity: z
        .enum(ADAPTIVE_IDENTITIES)
        .describe(
          "Who is acted on when the signal names them: ClientAddress (the address spec.clientAddress decides), Device (the value of adaptiveResponse.deviceHeader) or Account (the verified token's sub).",
        ),
      action: z
        .enum(["Block", "Throttle"])
        .describe("Block: every request of the identity is refused with 403 until the action expires. Throttle: at most limit.requests per limit.per, then 429."),
      duration: boundedDuration({
        description: "How long the action lasts after the signal last fired, from 10s to 7 days (168h); a new firing extends it.",
        min: "10s",
        max: "168h",
      }),
      limit: z
        .object({
          requests: z.number().int().min(1).max(1_000_000).describe("Requests the throttled identity may send per window; at least 1."),
          per: boundedDuration({ description: "Length of the window, from 1s to 1 day (24h).", min: "1s", max: "24h" }),
        })
        .strict()
        .meta({ description: "The tighter budget of a Throttle: so many requests per window, across every route and replica." })
        .optional(),
      mode: z
        .enum(["Enforce", "Shadow"])
        .default("Enforce")
        .describe(
          "Enforce refuses; Shadow lets the request through, tells the backend (x-bulwark-shadow-adaptive: denied) and reports it (metric and log), to watch before enforcing. Applies at once to identities already flagged.",
        ),
    })
    .strict(),
  "What happens to an identity a signal flags.",
  [
    {
      cel: "self.action == 'Throttle' ? has(self.limit) : !has(self.limit)",
      message: "limit is required with action Throttle and not allowed with action Block",
      fieldPath: ".limit",
      holds: (v) => (v.action === "Throttle") === (v.limit !== undefined),
    },
  ],
);

export const adaptiveResponse = withRules(
  z
    .object({
      rules: z.array(adaptiveRule).min(1).max(16).meta({
        description: "One rule per signal and identity: what happens to an identity the signal flags.",
        "x-kubernetes-list-type": "atomic",
      }),
      deviceHeader: httpHeaderName("Request header with the app's device identifier, e.g. X-Device-Id; required when a rule acts on Device identities.").optional(),
      failureMode: z
        .enum(["Allow", "Deny"])
        .default("Allow")
        .describe(
          "While Redis (where the actions live) cannot be reached: Allow lets through identities not known to be flagged (those seen flagged within the last seconds stay refused), Deny refuses every request of the policy with 503.",
        ),
    })
    .strict(),
  "Temporary blocks and tighter budgets for client addresses, devices and accounts that abuse signals flag, enforced by bulwark authz on every route of the policy. List and clear them with `bulwark blocks`.",
  [
    {
      cel: "self.rules.all(r, self.rules.exists_one(o, o.signal == r.signal && o.identity == r.identity))",
      message: "each signal and identity pair may have one rule",
      fieldPath: ".rules",
      holds: (v) => new Set(v.rules.map((r) => `${r.signal}/${r.identity}`)).size === v.rules.length,
    },
    {
      cel: "!self.rules.exists(r, r.identity == 'Device') || has(self.deviceHeader)",
      message: "rules with identity Device need deviceHeader: the request header that carries the device identifier",
      fieldPath: ".deviceHeader",
      holds: (v) => !v.rules.some((r) => r.identity === "Device") || v.deviceHeader !== undefined,
    },
  ],
);

export type AdaptiveResponse = z.output<typeof adaptiveResponse>;
