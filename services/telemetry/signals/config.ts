import type { SignalKind } from "../../../contract/telemetry.js";

/**
 * The tunables of every signal, with their defaults in one object (DEFAULT_SIGNAL_TUNABLES).
 * Windows and cool-downs in milliseconds here; the policy's `spec.abuseSignals` writes them as
 * durations and the lead's IR builder converts them. Each signal's definition and the reasoning
 * behind its defaults are in docs/signals.md.
 */

/** What every per-identity signal shares. */
export interface CommonTunables {
  enabled: boolean;
  /** After a firing, the same identity does not fire the same signal again for this long. */
  cooldownMs: number;
}

export interface FailedAuthSpikeTunables extends CommonTunables {
  /** Length of one bucket of the workload's failure rate. */
  bucketMs: number;
  /** Half-life of the learned baseline (exponentially weighted failures and requests per bucket, and their overdispersion). */
  baselineHalfLifeMs: number;
  /** Buckets learned before the signal may fire. */
  warmupBuckets: number;
  /** Fires when a bucket's failures exceed its requests × the learned failure share + deviations × standard deviation ... */
  deviations: number;
  /** ... and at least this many failures per second (the floor: a quiet workload's tiny baseline never fires on a handful). */
  minFailuresPerSecond: number;
}

export interface CredentialStuffingTunables extends CommonTunables {
  windowMs: number;
  /** Failed logins (401/403 on a Login route) from one client address or device in the window ... */
  minFailures: number;
  /** ... with at least this share of that caller's login attempts failing. */
  failureRatio: number;
  /** Or: distinct accounts (subjects, or devices for an address) tried from one caller on login routes in the window. */
  maxDistinctAccounts: number;
}

export interface CardTestingTunables extends CommonTunables {
  windowMs: number;
  /** Declined payment attempts (4xx on a Payment route; 402 counts double) by one caller in the window ... */
  minDeclines: number;
  /** ... with at least this share of its payment attempts declined. */
  declineRatio: number;
}

export interface EnumerationTunables extends CommonTunables {
  windowMs: number;
  /** Distinct object identifiers under one path template by one caller in the window. */
  maxDistinctIds: number;
  /** Or: consecutive requests whose numeric identifier is the previous one ± 1..maxStep, under one template. */
  sequentialRun: number;
  maxStep: number;
  /** Or: 403 and 404 answers to one caller in the window ... */
  minNotFoundOrForbidden: number;
  /** ... making at least this share of its requests. */
  notFoundOrForbiddenRatio: number;
}

export interface ScrapingTunables extends CommonTunables {
  windowMs: number;
  /** Fires when distinct paths × requests per second (both over the window) reaches this score ... */
  minScore: number;
  /** ... and the caller made at least this many requests in the window. */
  minRequests: number;
}

export interface ImpossibleTravelTunables extends CommonTunables {
  /** Two different countries for one account or device within this time fire. */
  windowMs: number;
  /** Unordered country pairs never reported (ISO 3166-1 alpha-2, `FR-DE`): neighbours whose networks cross the border. */
  allowedPairs: string[];
}

export interface RefusalCountTunables extends CommonTunables {
  windowMs: number;
  /** Refusals of the kind by one caller in the window. */
  minRefusals: number;
}

export interface SignalTunables {
  FailedAuthSpike: FailedAuthSpikeTunables;
  CredentialStuffing: CredentialStuffingTunables;
  CardTesting: CardTestingTunables;
  Enumeration: EnumerationTunables;
  Scraping: ScrapingTunables;
  ImpossibleTravel: ImpossibleTravelTunables;
  ReplayedProof: RefusalCountTunables;
  AttestationFailure: RefusalCountTunables;
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;

export const DEFAULT_SIGNAL_TUNABLES: SignalTunables = {
  FailedAuthSpike: {
    enabled: true,
    cooldownMs: 5 * MINUTE,
    bucketMs: 5 * SECOND,
    baselineHalfLifeMs: 30 * MINUTE,
    warmupBuckets: 24,
    deviations: 6,
    minFailuresPerSecond: 5,
  },
  CredentialStuffing: { enabled: true, cooldownMs: 5 * MINUTE, windowMs: 5 * MINUTE, minFailures: 20, failureRatio: 0.6, maxDistinctAccounts: 15 },
  CardTesting: { enabled: true, cooldownMs: 10 * MINUTE, windowMs: 10 * MINUTE, minDeclines: 10, declineRatio: 0.5 },
  Enumeration: {
    enabled: true,
    cooldownMs: 5 * MINUTE,
    windowMs: MINUTE,
    maxDistinctIds: 60,
    sequentialRun: 15,
    maxStep: 2,
    minNotFoundOrForbidden: 20,
    notFoundOrForbiddenRatio: 0.5,
  },
  Scraping: { enabled: true, cooldownMs: 5 * MINUTE, windowMs: MINUTE, minScore: 150, minRequests: 60 },
  ImpossibleTravel: { enabled: true, cooldownMs: 30 * MINUTE, windowMs: 60 * MINUTE, allowedPairs: [] },
  ReplayedProof: { enabled: true, cooldownMs: 5 * MINUTE, windowMs: 5 * MINUTE, minRefusals: 3 },
  AttestationFailure: { enabled: true, cooldownMs: 5 * MINUTE, windowMs: 5 * MINUTE, minRefusals: 5 },
};

/** A policy's partial override: any tunable of any signal. */
export type SignalOverrides = { [K in SignalKind]?: Partial<SignalTunables[K]> };

/** The defaults with a policy's overrides applied (a copy; the defaults are never changed). */
export function resolveTunables(overrides: SignalOverrides = {}): SignalTunables {
  const out = structuredClone(DEFAULT_SIGNAL_TUNABLES);
  for (const kind of Object.keys(out) as SignalKind[]) {
    const override = overrides[kind];
    if (override) Object.assign(out[kind], override);
  }
  return out;
}

/** What a route is for, from its rule's `purpose`: the detectors of stuffing and card testing look only at these. */
export type RoutePurpose = "Login" | "Payment";

/** What the detectors know of one workload; the lead builds it from the IR. */
export interface SignalConfig {
  workload: string;
  policy: { namespace: string; name: string };
  /** IR route name → purpose, for the routes whose rule has one. */
  routePurposes: Record<string, RoutePurpose>;
  tunables: SignalTunables;
}

/** How many identities each detector's table holds at most (least recently seen evicted first). */
export interface SignalLimits {
  maxIdentities: number;
  maxWorkloads: number;
}

export const DEFAULT_SIGNAL_LIMITS: SignalLimits = { maxIdentities: 50_000, maxWorkloads: 1_000 };
