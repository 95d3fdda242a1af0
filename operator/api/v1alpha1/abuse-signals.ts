import { z } from "zod";
import { boundedDuration } from "./common.js";
import { patternString, setList } from "./validation.js";

/**
 * spec.abuseSignals: a policy's tuning of the abuse signals that bulwark telemetry computes from
 * its sidecars' access logs (docs/signals.md defines each signal and its defaults). Every field
 * is optional: an absent field keeps the default, an absent block keeps every default.
 */

const enabled = z.boolean().optional().describe("Whether the signal is computed for this policy's workloads; true by default.");
const cooldown = boundedDuration({
  description: "After a firing, the same identity (or workload) does not fire this signal again for this long; from 10s to 24h.",
  min: "10s",
  max: "24h",
}).optional();
const window = (what: string, defaultValue: string): z.ZodOptional<z.ZodString> =>
  boundedDuration({ description: `The sliding window over which ${what} are counted, from 1s to 24h; ${defaultValue} by default.`, min: "1s", max: "24h" }).optional();
const count = (description: string): z.ZodOptional<z.ZodNumber> => z.number().int().min(1).max(1_000_000).optional().describe(description);
const percent = (description: string): z.ZodOptional<z.ZodNumber> => z.number().int().min(1).max(100).optional().describe(description);

const failedAuthSpike = z
  .object({
    enabled,
    cooldown,
    bucket: boundedDuration({ description: "Length of one bucket of the workload's failures and requests, from 1s to 5m; 5s by default.", min: "1s", max: "5m" }).optional(),
    baselineHalfLife: boundedDuration({
      description: "Half-life of the learned baseline (the share of requests that fail authentication, and its overdispersion), from 1m to 168h; 30m by default.",
      min: "1m",
      max: "168h",
    }).optional(),
    warmupBuckets: z.number().int().min(0).max(100_000).optional().describe("Buckets with traffic learned before the signal may fire; 24 by default."),
    deviations: z
      .number()
      .int()
      .min(1)
      .max(100)
      .optional()
      .describe("Fires when a bucket's failures exceed what the learned failure share predicts for its requests plus this many standard deviations; 6 by default."),
    minFailuresPerSecond: count("... and at least this many authentication failures per second (the floor); 5 by default."),
  })
  .strict()
  .meta({ description: "FailedAuthSpike: a workload's authentication failures per bucket above what its learned failure share predicts." });

const credentialStuffing = z
  .object({
    enabled,
    cooldown,
    window: window("failed logins", "5m"),
    minFailures: count("Failed logins (401, 403 or 429 on a rule with purpose Login) from one client address or device in the window; 20 by default."),
    failurePercent: percent("... with at least this percentage of its login attempts failing; 60 by default."),
    maxDistinctAccounts: count("Or: distinct accounts (or devices, for an address) tried from one caller in the window while mostly failing; 15 by default."),
  })
  .strict()
  .meta({ description: "CredentialStuffing: many failed logins, or many accounts, from one client address or device on Login rules." });

const cardTesting = z
  .object({
    enabled,
    cooldown,
    window: window("payment declines", "10m"),
    minDeclines: count("Declined payment attempts by one caller in the window (any 4xx on a rule with purpose Payment; 402 counts twice); 10 by default."),
    declinePercent: percent("... with declines making at least this percentage of its attempts (402 weighted twice); 50 by default."),
  })
  .strict()
  .meta({ description: "CardTesting: bursts of declined payment attempts by one account, device or client address on Payment rules." });

const enumeration = z
  .object({
    enabled,
    cooldown,
    window: window("object identifiers and 403/404 answers", "1m"),
    maxDistinctIds: count("Distinct object identifiers named by one caller in the window; 60 by default."),
    sequentialRun: count("Or: consecutive requests under one path template whose numeric identifier moves by 1 to maxStep; 15 by default."),
    maxStep: count("The largest step of a sequential walk; 2 by default."),
    minNotFoundOrForbidden: count("Or: 403 and 404 answers to one caller in the window; 20 by default."),
    notFoundOrForbiddenPercent: percent("... making at least this percentage of its requests; 50 by default."),
  })
  .strict()
  .meta({ description: "Enumeration: a caller walking object identifiers (BOLA probing) or mostly refused with 403 and 404." });

const scraping = z
  .object({
    enabled,
    cooldown,
    window: window("requests and distinct paths", "1m"),
    minScore: count("Fires when distinct paths × requests per second, both over the window, reach this score; 150 by default."),
    minRequests: count("... and the caller made at least this many requests in the window; 60 by default."),
  })
  .strict()
  .meta({ description: "Scraping: one caller requesting many distinct paths at a high rate." });

const countryPair = patternString({
  pattern: /^[A-Z]{2}-[A-Z]{2}$/,
  maxLength: 5,
  message: "must be two ISO 3166-1 alpha-2 country codes joined by '-', such as DE-FR",
  description: "Two countries (ISO 3166-1 alpha-2, either order) between which a quick change is expected, such as neighbours whose networks cross the border.",
});

const impossibleTravel = z
  .object({
    enabled,
    cooldown,
    window: boundedDuration({
      description: "Two different countries for one account or device within this time fire, from 1m to 24h; 60m by default.",
      min: "1m",
      max: "24h",
    }).optional(),
    allowedCountryPairs: setList(countryPair, { max: 64, description: "Country pairs never reported; none by default." }).optional(),
  })
  .strict()
  .meta({ description: "ImpossibleTravel: one account or device seen from two countries within the window (a heuristic at country level)." });

const replayedProof = z
  .object({
    enabled,
    cooldown,
    window: window("refusals", "5m"),
    minRefusals: count("Refusals for a replayed DPoP proof or attestation token of one caller in the window; 3 by default."),
  })
  .strict()
  .meta({ description: "ReplayedProof: a caller refused by bulwark authz for presenting a DPoP proof or an attestation token again." });

const attestationFailure = z
  .object({
    enabled,
    cooldown,
    window: window("refusals", "5m"),
    minRefusals: count("Refusals for a missing, invalid or failing app attestation of one caller in the window; 5 by default."),
  })
  .strict()
  .meta({ description: "AttestationFailure: a caller refused by bulwark authz because its app attestation was missing, invalid or failing." });

export const abuseSignals = z
  .object({
    failedAuthSpike: failedAuthSpike.optional(),
    credentialStuffing: credentialStuffing.optional(),
    cardTesting: cardTesting.optional(),
    enumeration: enumeration.optional(),
    scraping: scraping.optional(),
    impossibleTravel: impossibleTravel.optional(),
    replayedProof: replayedProof.optional(),
    attestationFailure: attestationFailure.optional(),
  })
  .strict()
  .meta({
    description:
      "Tuning of the abuse signals bulwark telemetry computes from this policy's traffic (docs/signals.md): each signal can be disabled or given other thresholds and windows; absent fields keep their defaults. Rules say which routes are logins and payments with their purpose.",
  });

export type AbuseSignalsSpec = z.infer<typeof abuseSignals>;
