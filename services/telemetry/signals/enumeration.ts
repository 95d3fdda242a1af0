import type { SignalEvent, TelemetryEntry } from "../../../contract/telemetry.js";
import { LruTable, WindowCounter, WindowDistinct } from "./bounded.js";
import type { EnumerationTunables, SignalConfig } from "./config.js";
import { mayFire, overWindow, signalEvent, type Detector } from "./detector.js";
import { callerIdentity, identityKey, objectOf, type Identity } from "./entry-facts.js";

interface WalkState {
  requests: WindowCounter;
  refused: WindowCounter;
  ids: WindowDistinct;
  /** The template and numeric id of the caller's last request naming a numeric object, and how many such requests in a row stepped by at most maxStep. */
  lastTemplate: string;
  lastId: number;
  run: number;
  firedMs: number;
}

interface Verdict {
  value: number;
  threshold: number;
  what: string;
}

/**
 * Enumeration and BOLA probing (heuristic): one caller (account, else device, else client
 * address) names many distinct object identifiers in a short window, walks numeric identifiers
 * in small steps under one path template, or receives mostly 403 and 404 answers.
 */
export class EnumerationDetector implements Detector {
  readonly kind = "Enumeration" as const;
  private readonly table: LruTable<WalkState>;

  constructor(capacity: number) {
    this.table = new LruTable<WalkState>(capacity);
  }

  observe(entry: TelemetryEntry, config: SignalConfig, emit: (event: SignalEvent) => void): void {
    const tunables = config.tunables.Enumeration;
    if (!tunables.enabled) return;
    const identity = callerIdentity(entry);
    const now = entry.timeMs;
    const state = this.table.upsert(identityKey(config.workload, identity), () => newState(tunables));
    state.requests.add(now);
    if (entry.status === 403 || entry.status === 404) state.refused.add(now);
    else state.refused.roll(now);
    const object = objectOf(entry.path);
    if (object) {
      state.ids.add(now, `${entry.method} ${object.template}\n${object.id}`);
      this.step(state, object.template, object.numeric, tunables.maxStep);
    }
    const verdict = judge(state, now, tunables);
    if (!verdict || !mayFire(state, now, tunables.cooldownMs)) return;
    emit(signalEvent(this.kind, config, { identity, ...verdict, message: describe(identity, verdict), timeMs: now }));
  }

  private step(state: WalkState, template: string, id: number | undefined, maxStep: number): void {
    if (id === undefined) return;
    const distance = Math.abs(id - state.lastId);
    state.run = template === state.lastTemplate && distance >= 1 && distance <= maxStep ? state.run + 1 : 1;
    state.lastTemplate = template;
    state.lastId = id;
  }

  sizes(): Record<string, number> {
    return { callers: this.table.size };
  }
}

function judge(state: WalkState, now: number, tunables: EnumerationTunables): Verdict | undefined {
  if (state.run >= tunables.sequentialRun)
    return { value: state.run, threshold: tunables.sequentialRun, what: `walked ${state.run} sequential object ids under ${state.lastTemplate}` };
  const ids = state.ids.value(now);
  if (ids >= tunables.maxDistinctIds)
    return { value: ids, threshold: tunables.maxDistinctIds, what: `named about ${Math.round(ids)} distinct object ids in ${Math.round(tunables.windowMs / 1000)} s` };
  const refused = state.refused.value(now);
  const requests = state.requests.value(now);
  if (refused >= tunables.minNotFoundOrForbidden && refused / requests >= tunables.notFoundOrForbiddenRatio) {
    return {
      value: refused,
      threshold: tunables.minNotFoundOrForbidden,
      what: `received ${overWindow(refused, tunables.windowMs)} 403/404 answers out of ${Math.round(requests)} requests`,
    };
  }
  return undefined;
}

function describe(identity: Identity, verdict: Verdict): string {
  return `${identity.kind} ${identity.value} ${verdict.what}`;
}

function newState(tunables: EnumerationTunables): WalkState {
  return {
    requests: new WindowCounter(tunables.windowMs),
    refused: new WindowCounter(tunables.windowMs),
    ids: new WindowDistinct(tunables.windowMs),
    lastTemplate: "",
    lastId: Number.NaN,
    run: 0,
    firedMs: 0,
  };
}
