import type { SignalEvent, SignalKind, TelemetryEntry } from "../../../contract/telemetry.js";
import type { SignalConfig } from "./config.js";
import type { Identity } from "./entry-facts.js";

/** One detector: fed entries in time order (per workload), it emits the signals they show. Pure: no clock, no I/O. */
export interface Detector {
  readonly kind: SignalKind;
  observe(entry: TelemetryEntry, config: SignalConfig, emit: (event: SignalEvent) => void): void;
  /** Lets time pass without entries (a bucket closing); `nowMs` comes from the caller. */
  tick?(nowMs: number, emit: (event: SignalEvent) => void): void;
  /** Sizes of its tables, to check and report the bounds. */
  sizes(): Record<string, number>;
}

/** What a firing reports; the detector fills the rest from the config. */
export interface Finding {
  identity?: Identity;
  value: number;
  threshold: number;
  message: string;
  timeMs: number;
}

export function signalEvent(kind: SignalKind, config: SignalConfig, finding: Finding): SignalEvent {
  const event: SignalEvent = {
    kind,
    workload: config.workload,
    policy: config.policy,
    value: Math.round(finding.value * 100) / 100,
    threshold: finding.threshold,
    message: finding.message,
    timeMs: finding.timeMs,
  };
  if (finding.identity) event.identity = { kind: finding.identity.kind, value: finding.identity.value };
  return event;
}

/** Per-identity state always carries the time of its last firing, for the cool-down. */
export interface Cooled {
  firedMs: number;
}

/** Whether `state` may fire at `nowMs` (its cool-down has passed); when it may, the firing is recorded. */
export function mayFire(state: Cooled, nowMs: number, cooldownMs: number): boolean {
  if (state.firedMs !== 0 && nowMs - state.firedMs < cooldownMs) return false;
  state.firedMs = nowMs;
  return true;
}

/** "12 in 60 s": a count over a window, as messages write it. */
export function overWindow(count: number, windowMs: number): string {
  return `${Math.round(count)} in ${Math.round(windowMs / 1000)} s`;
}
