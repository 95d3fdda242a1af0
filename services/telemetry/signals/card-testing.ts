import type { SignalEvent, TelemetryEntry } from "../../../contract/telemetry.js";
import { LruTable, WindowCounter } from "./bounded.js";
import type { CardTestingTunables, SignalConfig } from "./config.js";
import { mayFire, overWindow, signalEvent, type Detector } from "./detector.js";
import { callerIdentity, identityKey } from "./entry-facts.js";

interface PaymentState {
  attempts: WindowCounter;
  declines: WindowCounter;
  firedMs: number;
}

/** How much a payment answer counts as a decline: 402 Payment Required twice, any other 4xx once (a refused or rejected attempt), else 0. */
export function declineWeight(status: number): number {
  if (status === 402) return 2;
  return status >= 400 && status < 500 ? 1 : 0;
}

/**
 * Card testing (heuristic): on the routes a policy marks as Payment, one caller (account, else
 * device, else client address) has many payment attempts declined in a short window, and most of
 * its attempts are declined. The entry carries no amount, so "small" attempts are not told apart.
 */
export class CardTestingDetector implements Detector {
  readonly kind = "CardTesting" as const;
  private readonly table: LruTable<PaymentState>;

  constructor(capacity: number) {
    this.table = new LruTable<PaymentState>(capacity);
  }

  observe(entry: TelemetryEntry, config: SignalConfig, emit: (event: SignalEvent) => void): void {
    const tunables = config.tunables.CardTesting;
    if (!tunables.enabled || config.routePurposes[entry.route] !== "Payment") return;
    const identity = callerIdentity(entry);
    const now = entry.timeMs;
    const state = this.table.upsert(identityKey(config.workload, identity), () => newState(tunables));
    state.attempts.add(now);
    state.declines.add(now, declineWeight(entry.status));
    const attempts = state.attempts.value(now);
    const declines = state.declines.value(now);
    if (declines < tunables.minDeclines || declines / attempts < tunables.declineRatio) return;
    if (!mayFire(state, now, tunables.cooldownMs)) return;
    emit(
      signalEvent(this.kind, config, {
        identity,
        value: declines,
        threshold: tunables.minDeclines,
        message: `${overWindow(declines, tunables.windowMs)} weighted payment declines (402 counts twice) for ${identity.kind} ${identity.value} over ${Math.round(attempts)} attempts`,
        timeMs: now,
      }),
    );
  }

  sizes(): Record<string, number> {
    return { callers: this.table.size };
  }
}

function newState(tunables: CardTestingTunables): PaymentState {
  return { attempts: new WindowCounter(tunables.windowMs), declines: new WindowCounter(tunables.windowMs), firedMs: 0 };
}
