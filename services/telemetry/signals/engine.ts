import type { SignalEvent, TelemetryEntry, TelemetrySink } from "../../../contract/telemetry.js";
import { CardTestingDetector } from "./card-testing.js";
import { DEFAULT_SIGNAL_LIMITS, DEFAULT_SIGNAL_TUNABLES, type SignalConfig, type SignalLimits } from "./config.js";
import type { CountryOf } from "./country.js";
import { CredentialStuffingDetector } from "./credential-stuffing.js";
import type { Detector } from "./detector.js";
import { EnumerationDetector } from "./enumeration.js";
import { policyOfWorkload } from "./entry-facts.js";
import { FailedAuthSpikeDetector, type FailureBaseline } from "./failed-auth-spike.js";
import { ImpossibleTravelDetector } from "./impossible-travel.js";
import { RefusalCountDetector } from "./refusal-count.js";
import { ScrapingDetector } from "./scraping.js";

export interface SignalEngineOptions {
  /** The config of a workload (from the IR); undefined: the defaults, no login or payment routes. */
  configOf: (workload: string) => SignalConfig | undefined;
  /** Country lookup for ImpossibleTravel (dbipCountryOf() in production); without it that signal is off. */
  countryOf?: CountryOf;
  limits?: SignalLimits;
}

/** What survives a restart: the learned baselines (the per-identity windows are minutes long and are rebuilt from traffic). */
export interface SignalEngineState {
  version: 2;
  failedAuthBaselines: Record<string, FailureBaseline>;
}

/**
 * Every detector, fed the same entries. Pure and deterministic: time comes only from the entries
 * (and tick's argument), and the same entries in the same order give the same signals. Entries
 * of one workload should arrive in time order; a late entry counts in the current bucket.
 */
export class SignalEngine {
  private readonly spike: FailedAuthSpikeDetector;
  private readonly detectors: Detector[];
  private readonly fallbacks = new Map<string, SignalConfig>();

  constructor(private readonly options: SignalEngineOptions) {
    const { maxIdentities, maxWorkloads } = options.limits ?? DEFAULT_SIGNAL_LIMITS;
    this.spike = new FailedAuthSpikeDetector(maxWorkloads);
    this.detectors = [
      this.spike,
      new CredentialStuffingDetector(maxIdentities),
      new CardTestingDetector(maxIdentities),
      new EnumerationDetector(maxIdentities),
      new ScrapingDetector(maxIdentities),
      new RefusalCountDetector("ReplayedProof", maxIdentities),
      new RefusalCountDetector("AttestationFailure", maxIdentities),
    ];
    if (options.countryOf) this.detectors.push(new ImpossibleTravelDetector(maxIdentities, options.countryOf));
  }

  /** Feeds entries to every detector; returns the signals they fired, in order. */
  observe(entries: readonly TelemetryEntry[]): SignalEvent[] {
    const events: SignalEvent[] = [];
    const emit = (event: SignalEvent): void => void events.push(event);
    for (const entry of entries) {
      const config = this.configOf(entry.workload);
      for (const detector of this.detectors) detector.observe(entry, config, emit);
    }
    return events;
  }

  /** The engine as a sink of the telemetry receiver: every signal the entries fire goes to `onSignal`. */
  sink(onSignal: (event: SignalEvent) => void): TelemetrySink {
    return (entries) => {
      for (const event of this.observe(entries)) onSignal(event);
    };
  }

  /** Lets time pass without traffic (closes the failure-rate buckets). */
  tick(nowMs: number): SignalEvent[] {
    const events: SignalEvent[] = [];
    for (const detector of this.detectors) detector.tick?.(nowMs, (event) => void events.push(event));
    return events;
  }

  /** Table sizes per detector, to export as gauges and to check the bounds. */
  sizes(): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    for (const detector of this.detectors) out[detector.kind] = detector.sizes();
    return out;
  }

  toJSON(): SignalEngineState {
    return { version: 2, failedAuthBaselines: this.spike.toJSON() };
  }

  /** Restores what toJSON saved; state of another version, or malformed, is ignored (the baselines are learned again). */
  restore(state: unknown): void {
    if (typeof state !== "object" || state === null) return;
    const s = state as Partial<SignalEngineState>;
    if (s.version !== 2 || typeof s.failedAuthBaselines !== "object" || s.failedAuthBaselines === null) return;
    this.spike.restore(s.failedAuthBaselines, (workload) => this.configOf(workload));
  }

  private configOf(workload: string): SignalConfig {
    const config = this.options.configOf(workload);
    if (config) return config;
    let fallback = this.fallbacks.get(workload);
    if (!fallback) {
      if (this.fallbacks.size >= 1024) this.fallbacks.clear();
      fallback = { workload, policy: policyOfWorkload(workload), routePurposes: {}, tunables: DEFAULT_SIGNAL_TUNABLES };
      this.fallbacks.set(workload, fallback);
    }
    return fallback;
  }
}
