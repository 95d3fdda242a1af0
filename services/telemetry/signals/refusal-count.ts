import type { SignalEvent, SignalKind, TelemetryEntry } from "../../../contract/telemetry.js";
import { LruTable, WindowCounter } from "./bounded.js";
import type { SignalConfig } from "./config.js";
import { mayFire, overWindow, signalEvent, type Detector } from "./detector.js";
import { ATTESTATION_FAILURE_REASONS, REPLAY_REASONS, callerIdentity, identityKey } from "./entry-facts.js";

interface RefusalState {
  refusals: WindowCounter;
  firedMs: number;
}

/**
 * A count of one family of authz refusals per caller (account, else device, else client
 * address): ReplayedProof (a DPoP proof or attestation token presented again) and
 * AttestationFailure (a missing, invalid or failing app attestation). Exact counts of what authz
 * refused; the threshold is the only judgement.
 */
export class RefusalCountDetector implements Detector {
  private readonly table: LruTable<RefusalState>;

  constructor(
    readonly kind: Extract<SignalKind, "ReplayedProof" | "AttestationFailure">,
    capacity: number,
  ) {
    this.table = new LruTable<RefusalState>(capacity);
  }

  observe(entry: TelemetryEntry, config: SignalConfig, emit: (event: SignalEvent) => void): void {
    const tunables = config.tunables[this.kind];
    if (!tunables.enabled || entry.reason === undefined) return;
    const reasons = this.kind === "ReplayedProof" ? REPLAY_REASONS : ATTESTATION_FAILURE_REASONS;
    if (!reasons.has(entry.reason)) return;
    const identity = callerIdentity(entry);
    const now = entry.timeMs;
    const state = this.table.upsert(identityKey(config.workload, identity), () => ({ refusals: new WindowCounter(tunables.windowMs), firedMs: 0 }));
    state.refusals.add(now);
    const count = state.refusals.value(now);
    if (count < tunables.minRefusals || !mayFire(state, now, tunables.cooldownMs)) return;
    const what = this.kind === "ReplayedProof" ? "replayed proofs refused" : "attestation failures";
    emit(
      signalEvent(this.kind, config, {
        identity,
        value: count,
        threshold: tunables.minRefusals,
        message: `${overWindow(count, tunables.windowMs)} ${what} for ${identity.kind} ${identity.value} (last: ${entry.reason})`,
        timeMs: now,
      }),
    );
  }

  sizes(): Record<string, number> {
    return { callers: this.table.size };
  }
}
