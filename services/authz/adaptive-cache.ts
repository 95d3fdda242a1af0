import type { AdaptiveAction } from "../../contract/telemetry.js";
import { identityKey, policyKey, type AdaptiveStore, type Identity, type PolicyKey } from "../adaptive/store.js";

/** How long an answer from the store is used without asking again: the staleness bound of a block, a throttle or a clear. */
export const ADAPTIVE_CACHE_MS = 1000;
/** Identities remembered at most (the oldest answers go first past it). */
export const ADAPTIVE_CACHE_ENTRIES = 100_000;

interface Entry {
  action: AdaptiveAction | undefined;
  fetchedMs: number;
}

export interface CachedLookup {
  actions: AdaptiveAction[];
  /** The store could not answer: `actions` are the last answers known (any age, unexpired). */
  unavailable: boolean;
}

/**
 * The store's answers for each identity, kept for ADAPTIVE_CACHE_MS so a request rarely waits for
 * Redis: a block, a throttle or a clear made anywhere applies on this replica within that time.
 * Identities asked for concurrently share one lookup. While the store cannot answer, the last
 * answers (of any age, until the actions themselves expire) are what is known.
 */
export class AdaptiveCache {
  private readonly entries = new Map<string, Entry>();
  private readonly inFlight = new Map<string, Promise<void>>();

  constructor(
    private readonly store: AdaptiveStore,
    private readonly options: { ttlMs?: number; maxEntries?: number } = {},
  ) {}

  private known(key: string, nowMs: number): AdaptiveAction | undefined {
    const action = this.entries.get(key)?.action;
    return action && action.expiresMs > nowMs ? action : undefined;
  }

  async lookup(policy: PolicyKey, identities: readonly Identity[], nowMs: number): Promise<CachedLookup> {
    const ttl = this.options.ttlMs ?? ADAPTIVE_CACHE_MS;
    const keys = identities.map((i) => `${policyKey(policy)}|${identityKey(i)}`);
    const missing: number[] = [];
    const waits: Promise<void>[] = [];
    keys.forEach((key, i) => {
      const entry = this.entries.get(key);
      if (entry && nowMs - entry.fetchedMs < ttl) return;
      const pending = this.inFlight.get(key);
      if (pending) waits.push(pending);
      else missing.push(i);
    });
    let unavailable = false;
    if (missing.length > 0)
      waits.push(
        this.fetch(
          policy,
          missing.map((i) => identities[i] as Identity),
          missing.map((i) => keys[i] as string),
          nowMs,
        ),
      );
    for (const result of await Promise.allSettled(waits)) if (result.status === "rejected") unavailable = true;
    // An identity whose lookup failed and that was never answered is unknown, so absent.
    const actions = keys.map((k) => this.known(k, nowMs)).filter((a): a is AdaptiveAction => a !== undefined);
    return { actions, unavailable };
  }

  private fetch(policy: PolicyKey, identities: Identity[], keys: string[], nowMs: number): Promise<void> {
    const done = this.store.lookup(policy, identities, nowMs).then((actions) => {
      const byKey = new Map(actions.map((a) => [`${policyKey(a.policy)}|${identityKey(a.identity)}`, a]));
      for (const key of keys) this.remember(key, { action: byKey.get(key), fetchedMs: nowMs });
    });
    const settled = done.finally(() => {
      for (const key of keys) if (this.inFlight.get(key) === settled) this.inFlight.delete(key);
    });
    for (const key of keys) this.inFlight.set(key, settled);
    return settled;
  }

  private remember(key: string, entry: Entry): void {
    this.entries.delete(key);
    this.entries.set(key, entry);
    const max = this.options.maxEntries ?? ADAPTIVE_CACHE_ENTRIES;
    if (this.entries.size <= max) return;
    // Oldest answers first (the map keeps insertion order).
    for (const oldest of this.entries.keys()) {
      this.entries.delete(oldest);
      if (this.entries.size <= max) return;
    }
  }
}
