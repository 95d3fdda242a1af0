import type { SignalEvent, TelemetryEntry } from "../../../contract/telemetry.js";
import { LruTable, WindowCounter, WindowDistinct } from "./bounded.js";
import type { CredentialStuffingTunables, SignalConfig } from "./config.js";
import { mayFire, overWindow, signalEvent, type Detector } from "./detector.js";
import { identityKey, isAuthFailure, type Identity } from "./entry-facts.js";

interface LoginState {
  attempts: WindowCounter;
  failures: WindowCounter;
  accounts: WindowDistinct;
  firedMs: number;
}

/** A failed login: refused credentials (401, 403, an authentication refusal) or a rate-limit refusal (429) on a Login route. */
export function isFailedLogin(entry: TelemetryEntry): boolean {
  return entry.status === 401 || entry.status === 403 || entry.status === 429 || isAuthFailure(entry);
}

/**
 * Credential stuffing (heuristic): on the routes a policy marks as Login, one client address or
 * one device fails many logins, most of its attempts fail, or it tries many distinct accounts
 * (subjects when the entry has one; for an address, its distinct devices) while mostly failing.
 */
export class CredentialStuffingDetector implements Detector {
  readonly kind = "CredentialStuffing" as const;
  private readonly table: LruTable<LoginState>;

  constructor(capacity: number) {
    this.table = new LruTable<LoginState>(capacity);
  }

  observe(entry: TelemetryEntry, config: SignalConfig, emit: (event: SignalEvent) => void): void {
    const tunables = config.tunables.CredentialStuffing;
    if (!tunables.enabled || config.routePurposes[entry.route] !== "Login") return;
    const failed = isFailedLogin(entry);
    this.count({ kind: "ClientAddress", value: entry.clientAddress }, entry.subject ?? entry.device, { entry, failed, config, emit });
    if (entry.device) this.count({ kind: "Device", value: entry.device }, entry.subject, { entry, failed, config, emit });
  }

  private count(identity: Identity, account: string | undefined, seen: { entry: TelemetryEntry; failed: boolean; config: SignalConfig; emit: (event: SignalEvent) => void }): void {
    const { entry, config } = seen;
    const tunables = config.tunables.CredentialStuffing;
    const now = entry.timeMs;
    const state = this.table.upsert(identityKey(config.workload, identity), () => newState(tunables));
    state.attempts.add(now);
    if (seen.failed) state.failures.add(now);
    else state.failures.roll(now);
    const distinct = account !== undefined ? state.accounts.add(now, account) : state.accounts.value(now);
    const attempts = state.attempts.value(now);
    const failures = state.failures.value(now);
    if (attempts === 0 || failures / attempts < tunables.failureRatio) return;
    const byFailures = failures >= tunables.minFailures;
    const byAccounts = distinct >= tunables.maxDistinctAccounts;
    if (!(byFailures || byAccounts) || !mayFire(state, now, tunables.cooldownMs)) return;
    const ratio = `${Math.round((100 * failures) / attempts)}% of ${Math.round(attempts)} login attempts failed`;
    seen.emit(
      signalEvent(this.kind, config, {
        identity,
        value: byFailures ? failures : distinct,
        threshold: byFailures ? tunables.minFailures : tunables.maxDistinctAccounts,
        message: byFailures
          ? `${overWindow(failures, tunables.windowMs)} failed logins from ${identity.kind} ${identity.value} (${ratio})`
          : `about ${Math.round(distinct)} distinct accounts tried from ${identity.kind} ${identity.value} in ${Math.round(tunables.windowMs / 1000)} s (${ratio})`,
        timeMs: now,
      }),
    );
  }

  sizes(): Record<string, number> {
    return { callers: this.table.size };
  }
}

function newState(tunables: CredentialStuffingTunables): LoginState {
  return { attempts: new WindowCounter(tunables.windowMs), failures: new WindowCounter(tunables.windowMs), accounts: new WindowDistinct(tunables.windowMs), firedMs: 0 };
}
