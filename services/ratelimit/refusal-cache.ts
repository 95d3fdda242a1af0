import type { CountRequest, CountResult, CounterStore } from "./store.js";
import { msUntilFits, usedInWindow, windowPosition } from "./window.js";

interface Refusal {
  /** The request does not fit before this instant (ms since the epoch). */
  untilMs: number;
  /** The counts it was refused with, and the window they belong to. */
  current: number;
  previous: number;
  windowIndex: number;
  limit: number;
  /** The smallest request (cost, at least 1) this refusal answers for. */
  need: number;
}

/** Budgets remembered as refused, at most; the oldest are forgotten first. */
export const DEFAULT_MAX_REFUSALS = 100_000;

/**
 * Budgets already spent, remembered in this process until the instant a request could fit again,
 * so that refusing them does not cost a round trip to the store (envoyproxy/ratelimit keeps such
 * a cache too). Exact, not an approximation: counts only grow within a window (every replica
 * adds, nobody subtracts), so a request that does not fit the counts the store returned cannot
 * fit earlier than msUntilFits() says, whatever other replicas do meanwhile. The answer is
 * computed from the counts the store returned, at the time of the new request, so `remaining`,
 * Retry-After, Shadow reporting and outcome-aware checks (cost 0) are what the store would give.
 * A refusal is used only in the window it was counted in, for the same limit, and for requests
 * at least as large; anything else goes to the store. Spending (`add`) always goes to the store
 * and forgets the budget's refusal. Outcomes counted by other replicas (`add`, which spends
 * whether or not it fits) are not seen here: until the refusal expires, Retry-After is then
 * computed from the counts of the refusal, a lower bound; the refusal itself stays right.
 */
export class RefusalCache implements CounterStore {
  private readonly refusals = new Map<string, Refusal>();

  constructor(
    private readonly store: CounterStore,
    private readonly maxRefusals = DEFAULT_MAX_REFUSALS,
  ) {}

  /** Budgets remembered as refused. */
  get size(): number {
    return this.refusals.size;
  }

  take(request: CountRequest): Promise<CountResult> {
    const refusal = this.refusals.get(request.key);
    if (refusal !== undefined) {
      if (request.nowMs < refusal.untilMs && refusal.limit === request.limit && Math.max(request.cost, 1) >= refusal.need) {
        const position = windowPosition(request.nowMs, request.windowMs);
        if (position.index === refusal.windowIndex) return Promise.resolve({ current: refusal.current, previous: refusal.previous, spent: false });
      }
      this.refusals.delete(request.key);
    }
    return this.store.take(request).then((result) => {
      if (!result.spent) this.remember(request, result);
      return result;
    });
  }

  private remember(request: CountRequest, result: CountResult): void {
    const position = windowPosition(request.nowMs, request.windowMs);
    // An outcome-aware check (cost 0) that passed is not a refusal.
    if (request.cost === 0 && usedInWindow(result, position) < request.limit) return;
    const waitMs = msUntilFits(result, position, request.cost, request.limit);
    if (waitMs <= 0) return;
    if (this.refusals.size >= this.maxRefusals) {
      const oldest = this.refusals.keys().next();
      if (!oldest.done) this.refusals.delete(oldest.value);
    }
    this.refusals.set(request.key, {
      untilMs: request.nowMs + waitMs,
      current: result.current,
      previous: result.previous,
      windowIndex: position.index,
      limit: request.limit,
      need: Math.max(request.cost, 1),
    });
  }

  /** Spends in the store; a refusal remembered for the budget is forgotten (its counts grew). */
  add(request: Omit<CountRequest, "limit">): Promise<void> {
    this.refusals.delete(request.key);
    return this.store.add(request);
  }

  close(): Promise<void> {
    this.refusals.clear();
    return this.store.close();
  }
}
