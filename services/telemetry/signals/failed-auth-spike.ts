import type { SignalEvent, TelemetryEntry } from "../../../contract/telemetry.js";
import { LruTable } from "./bounded.js";
import type { FailedAuthSpikeTunables, SignalConfig } from "./config.js";
import { mayFire, signalEvent, type Detector } from "./detector.js";
import { isAuthFailure } from "./entry-facts.js";

/** A workload's learned baseline of authentication failures per bucket: what survives a restart. */
export interface FailureBaseline {
  /** Exponentially weighted mean and variance of the failures per bucket. */
  mean: number;
  variance: number;
  /** Buckets learned so far (the warm-up counts them). */
  buckets: number;
  /** Start of the bucket being counted, and its count so far. */
  bucketStartMs: number;
  count: number;
  firedMs: number;
}

interface WorkloadState extends FailureBaseline {
  config: SignalConfig;
}

/** The most empty buckets folded one by one after a silence; beyond it the decay is applied at once. */
const MAX_GAP_STEPS = 64;

/**
 * Failed-authentication spike (learned baseline, so a heuristic in its thresholds): a workload's
 * authentication failures (401s and refusals of tokens, DPoP proofs, attestations, API keys or
 * certificates; not the DPoP nonce challenge) in the current bucket exceed both the learned mean
 * plus `deviations` standard deviations and a floor in failures per second, once `warmupBuckets`
 * buckets have been learned. A bucket that fires is learned at the threshold, not at its count,
 * so an attack that lasts does not become the new normal quickly.
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
    if (!isAuthFailure(entry)) return;
    state.count++;
    const limit = threshold(state, tunables);
    if (state.buckets < tunables.warmupBuckets || state.count <= limit || !mayFire(state, entry.timeMs, tunables.cooldownMs)) return;
    const seconds = tunables.bucketMs / 1000;
    emit(
      signalEvent(this.kind, config, {
        value: state.count,
        threshold: Math.ceil(limit),
        message: `${state.count} authentication failures in ${seconds} s on ${config.workload}, above the learned ${state.mean.toFixed(1)} ± ${Math.sqrt(state.variance).toFixed(1)} per ${seconds} s (floor ${tunables.minFailuresPerSecond}/s)`,
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
    for (const [workload, { mean, variance, buckets, bucketStartMs, count, firedMs }] of this.table) out[workload] = { mean, variance, buckets, bucketStartMs, count, firedMs };
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
  return { mean: 0, variance: 0, buckets: 0, bucketStartMs: nowMs, count: 0, firedMs: 0 };
}

function isBaseline(value: unknown): value is FailureBaseline {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return ["mean", "variance", "buckets", "bucketStartMs", "count", "firedMs"].every((k) => typeof v[k] === "number" && Number.isFinite(v[k]));
}

/** The count above which the current bucket is a spike. */
function threshold(state: FailureBaseline, tunables: FailedAuthSpikeTunables): number {
  const floor = (tunables.minFailuresPerSecond * tunables.bucketMs) / 1000;
  return Math.max(floor, state.mean + tunables.deviations * Math.sqrt(state.variance));
}

/** Closes the buckets that ended before `nowMs`, learning each (empty ones included). */
function roll(state: FailureBaseline, nowMs: number, tunables: FailedAuthSpikeTunables): void {
  const alpha = 1 - 0.5 ** (tunables.bucketMs / tunables.baselineHalfLifeMs);
  let steps = 0;
  while (nowMs >= state.bucketStartMs + tunables.bucketMs) {
    if (steps === MAX_GAP_STEPS) {
      const rest = Math.floor((nowMs - state.bucketStartMs) / tunables.bucketMs);
      const decay = (1 - alpha) ** rest;
      state.mean *= decay;
      state.variance *= decay;
      state.buckets += rest;
      state.bucketStartMs += rest * tunables.bucketMs;
      state.count = 0;
      return;
    }
    learn(state, Math.min(state.count, threshold(state, tunables)), alpha);
    state.count = 0;
    state.bucketStartMs += tunables.bucketMs;
    steps++;
  }
}

function learn(state: FailureBaseline, x: number, alpha: number): void {
  if (state.buckets === 0) {
    state.mean = x;
    state.variance = 0;
  } else {
    const diff = x - state.mean;
    state.mean += alpha * diff;
    state.variance = (1 - alpha) * (state.variance + alpha * diff * diff);
  }
  state.buckets++;
}
