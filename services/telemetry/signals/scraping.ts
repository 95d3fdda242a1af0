import type { SignalEvent, TelemetryEntry } from "../../../contract/telemetry.js";
import { LruTable, WindowCounter, WindowDistinct } from "./bounded.js";
import type { ScrapingTunables, SignalConfig } from "./config.js";
import { mayFire, signalEvent, type Detector } from "./detector.js";
import { callerIdentity, identityKey } from "./entry-facts.js";

interface BreadthState {
  requests: WindowCounter;
  paths: WindowDistinct;
  firedMs: number;
}

/**
 * Scraping (heuristic): one caller (account, else device, else client address) requests many
 * distinct paths at a high rate. The score is distinct paths in the window × requests per second
 * over the window: a person reading a feed scores tens, a crawler thousands.
 */
export class ScrapingDetector implements Detector {
  readonly kind = "Scraping" as const;
  private readonly table: LruTable<BreadthState>;

  constructor(capacity: number) {
    this.table = new LruTable<BreadthState>(capacity);
  }

  observe(entry: TelemetryEntry, config: SignalConfig, emit: (event: SignalEvent) => void): void {
    const tunables = config.tunables.Scraping;
    if (!tunables.enabled) return;
    const identity = callerIdentity(entry);
    const now = entry.timeMs;
    const state = this.table.upsert(identityKey(config.workload, identity), () => newState(tunables));
    state.requests.add(now);
    const paths = state.paths.add(now, `${entry.method} ${entry.path}`);
    const requests = state.requests.value(now);
    if (requests < tunables.minRequests) return;
    const score = (paths * requests * 1000) / tunables.windowMs;
    if (score < tunables.minScore || !mayFire(state, now, tunables.cooldownMs)) return;
    const seconds = Math.round(tunables.windowMs / 1000);
    emit(
      signalEvent(this.kind, config, {
        identity,
        value: score,
        threshold: tunables.minScore,
        message: `${identity.kind} ${identity.value} requested about ${Math.round(paths)} distinct paths at ${(requests / seconds).toFixed(1)} requests/s over ${seconds} s (score ${Math.round(score)})`,
        timeMs: now,
      }),
    );
  }

  sizes(): Record<string, number> {
    return { callers: this.table.size };
  }
}

function newState(tunables: ScrapingTunables): BreadthState {
  return { requests: new WindowCounter(tunables.windowMs), paths: new WindowDistinct(tunables.windowMs), firedMs: 0 };
}
