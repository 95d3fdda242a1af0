import type { SignalEvent, TelemetryEntry } from "../../../contract/telemetry.js";
import { LruTable } from "./bounded.js";
import type { FailedAuthSpikeTunables, SignalConfig } from "./config.js";
import { mayFire, signalEvent, type Detector } from "./detector.js";
import { isAuthFailure } from "./entry-facts.js";

/**
 * A workload's learned baseline of authentication failures: what survives a restart. The model is
 * the share of the workload's requests that fail authentication, not their count, so traffic that
 * doubles (a push notification, the evening peak, a replay that catches up) with the usual share
 * of failures is not a spike.
 */
export interface FailureBaseline {
  /** Exponentially weighted failures and requests per bucket; their quotient is the learned failure share. */
  failures: number;
  requests: number;
  /** Exponentially weighted overdispersion: how much more the per-bucket failures vary than a binomial draw at the learned share (at least 1). */
  dispersion: number;
  /** Buckets with traffic learned so far (the warm-up counts them). */
  buckets: number;
  /** Start of the bucket being counted, its failures and requests so far. */
  bucketStartMs: number;
  count: number;
  seen: number;
  firedMs: number;
}

interface WorkloadState extends FailureBaseline {
  config: SignalConfig;
}

/**
 * Failed-authentication spike (learned baseline, so a heuristic in its thresholds): a workload's
 * authentication failures (401s and refusals of tokens, DPoP proofs, attestations, API keys or
 * certificates; not the DPoP nonce challenge nor an expired token) in the current bucket exceed
 * both what the learned failure share predicts for the bucket's requests, plus `deviations`
 * standard deviations (binomial, widened by the learned overdispersion), and a floor in failures
 * per second, once `warmupBuckets` buckets with traffic have been learned. A bucket that fires is
 * learned at the threshold, not at its count, so an attack that lasts does not become the new
 * normal quickly.
 */
export class FailedAuthSpikeDetector implements Detector {
  readonly kind = "FailedAuthSpike" as const;
  private readonly table: LruTable<WorkloadState>;

  constructor(capacity: number) {
    this.table = new LruTable<WorkloadState>(capacity);
  }

  observe(entry: TelemetryEntry, config: SignalConfig, emit: (event: SignalEvent) => void): void {
    const tunables = config.tunables.FailedAuthSpike;
    if (!tunables.enabled) return;
    const state = this.table.upsert(config.workload, () => ({ ...emptyBaseline(entry.timeMs), config }));
    state.config = config;
    roll(state, entry.timeMs, tunables);
    state.seen++;
    if (!isAuthFailure(entry)) return;
    state.count++;
    const limit = threshold(state, state.seen, tunables);
    if (state.buckets < tunables.warmupBuckets || state.count <= limit || !mayFire(state, entry.timeMs, tunables.cooldownMs)) return;
    const seconds = tunables.bucketMs / 1000;
    const share = learnedShare(state);
    emit(
      signalEvent(this.kind, config, {
        value: state.count,
        threshold: Math.ceil(limit),
        message: `${state.count} authentication failures in ${state.seen} requests within ${seconds} s on ${config.workload}, above the ${Math.ceil(limit)} its learned failure share of ${(share * 100).toFixed(2)}% allows (floor ${tunables.minFailuresPerSecond}/s)`,
        timeMs: entry.timeMs,
      }),
    );
  }

  tick(nowMs: number): void {
    for (const [, state] of this.table) roll(state, nowMs, state.config.tunables.FailedAuthSpike);
  }

  sizes(): Record<string, number> {
    return { workloads: this.table.size };
  }

  /** The baselines to persist (Redis, a ConfigMap), so a restart does not relearn from zero. */
  toJSON(): Record<string, FailureBaseline> {
    const out: Record<string, FailureBaseline> = {};
    for (const [workload, { failures, requests, dispersion, buckets, bucketStartMs, count, seen, firedMs }] of this.table) {
      out[workload] = { failures, requests, dispersion, buckets, bucketStartMs, count, seen, firedMs };
    }
    return out;
  }

  /** Restores baselines saved by toJSON; each workload's config arrives with its next entry. */
  restore(saved: Record<string, FailureBaseline>, configOf: (workload: string) => SignalConfig): void {
    for (const [workload, baseline] of Object.entries(saved)) {
      if (!isBaseline(baseline)) continue;
      this.table.upsert(workload, () => ({ ...baseline, config: configOf(workload) }));
    }
  }
}

function emptyBaseline(nowMs: number): FailureBaseline {
  return { failures: 0, requests: 0, dispersion: 1, buckets: 0, bucketStartMs: nowMs, count: 0, seen: 0, firedMs: 0 };
}

const BASELINE_FIELDS = ["failures", "requests", "dispersion", "buckets", "bucketStartMs", "count", "seen", "firedMs"] as const;

function isBaseline(value: unknown): value is FailureBaseline {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return BASELINE_FIELDS.every((k) => typeof v[k] === "number" && Number.isFinite(v[k]) && v[k] >= 0);
}

function learnedShare(state: FailureBaseline): number {
  return state.requests > 0 ? Math.min(1, state.failures / state.requests) : 0;
}

/** The failure count above which a bucket of `requests` requests is a spike. */
function threshold(state: FailureBaseline, requests: number, tunables: FailedAuthSpikeTunables): number {
  const floor = (tunables.minFailuresPerSecond * tunables.bucketMs) / 1000;
  const share = learnedShare(state);
  const expected = requests * share;
  const spread = Math.sqrt(Math.max(1, state.dispersion) * requests * share * (1 - share));
  return Math.max(floor, expected + tunables.deviations * spread);
}

/** Closes the buckets that ended before `nowMs`, learning the one with traffic; empty buckets tell nothing about the share. */
function roll(state: FailureBaseline, nowMs: number, tunables: FailedAuthSpikeTunables): void {
  if (nowMs < state.bucketStartMs + tunables.bucketMs) return;
  if (state.seen > 0) learn(state, Math.min(state.count, threshold(state, state.seen, tunables)), state.seen, tunables);
  state.count = 0;
  state.seen = 0;
  state.bucketStartMs += Math.floor((nowMs - state.bucketStartMs) / tunables.bucketMs) * tunables.bucketMs;
}

function learn(state: FailureBaseline, failures: number, requests: number, tunables: FailedAuthSpikeTunables): void {
  if (state.buckets === 0) {
    state.failures = failures;
    state.requests = requests;
    state.dispersion = 1;
  } else {
    const alpha = 1 - 0.5 ** (tunables.bucketMs / tunables.baselineHalfLifeMs);
    const share = learnedShare(state);
    const binomial = requests * share * (1 - share);
    if (binomial > 0) {
      const residual = failures - requests * share;
      state.dispersion += alpha * (Math.min((residual * residual) / binomial, 100) - state.dispersion);
    }
    state.failures += alpha * (failures - state.failures);
    state.requests += alpha * (requests - state.requests);
  }
  state.buckets++;
}
