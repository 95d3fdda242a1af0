import type { SignalEvent, TelemetryEntry } from "../../../contract/telemetry.js";
import { LruTable } from "./bounded.js";
import type { SignalConfig } from "./config.js";
import type { CountryOf } from "./country.js";
import { mayFire, signalEvent, type Detector } from "./detector.js";
import { identityKey, type Identity } from "./entry-facts.js";

interface WhereState {
  address: string;
  country: string;
  seenMs: number;
  firedMs: number;
}

/**
 * Impossible travel (heuristic, country level): the same account or device is seen from two
 * different countries within `windowMs`, unless the pair is allowed. The database knows
 * countries, not cities, so this is "two countries within N minutes", not a speed; VPNs, relays
 * and carriers that route abroad cause false positives. Addresses without a country (private,
 * loopback) are ignored.
 */
export class ImpossibleTravelDetector implements Detector {
  readonly kind = "ImpossibleTravel" as const;
  private readonly table: LruTable<WhereState>;

  constructor(
    capacity: number,
    private readonly countryOf: CountryOf,
  ) {
    this.table = new LruTable<WhereState>(capacity);
  }

  observe(entry: TelemetryEntry, config: SignalConfig, emit: (event: SignalEvent) => void): void {
    if (!config.tunables.ImpossibleTravel.enabled) return;
    if (entry.subject) this.place({ kind: "Account", value: entry.subject }, entry, { config, emit });
    if (entry.device) this.place({ kind: "Device", value: entry.device }, entry, { config, emit });
  }

  private place(identity: Identity, entry: TelemetryEntry, to: { config: SignalConfig; emit: (event: SignalEvent) => void }): void {
    const tunables = to.config.tunables.ImpossibleTravel;
    const now = entry.timeMs;
    const key = identityKey(to.config.workload, identity);
    const state = this.table.get(key);
    if (state && state.address === entry.clientAddress) {
      this.table.upsert(key, () => state);
      state.seenMs = Math.max(state.seenMs, now);
      return;
    }
    const country = this.countryOf(entry.clientAddress);
    if (country === undefined) return;
    const previous = this.table.upsert(key, () => ({ address: entry.clientAddress, country, seenMs: now, firedMs: 0 }));
    const from = previous.country;
    const apart = now - previous.seenMs;
    previous.address = entry.clientAddress;
    previous.country = country;
    previous.seenMs = Math.max(previous.seenMs, now);
    if (from === country || apart >= tunables.windowMs || allowed(tunables.allowedPairs, from, country)) return;
    if (!mayFire(previous, now, tunables.cooldownMs)) return;
    const minutes = apart / 60_000;
    to.emit(
      signalEvent(this.kind, to.config, {
        identity,
        value: minutes,
        threshold: tunables.windowMs / 60_000,
        message: `${identity.kind} ${identity.value} seen from ${from} then ${country} ${minutes.toFixed(1)} min apart (less than ${Math.round(tunables.windowMs / 60_000)} min)`,
        timeMs: now,
      }),
    );
  }

  sizes(): Record<string, number> {
    return { identities: this.table.size };
  }
}

function allowed(pairs: readonly string[], a: string, b: string): boolean {
  return pairs.includes(`${a}-${b}`) || pairs.includes(`${b}-${a}`);
}
