/**
 * Sliding-window counting, shared by every store.
 *
 * A budget of `limit` per window W is kept as two fixed-window counters (the current window and
 * the one before it). The requests used in the sliding window that ends now are estimated as
 * `current + floor(previous × share of the previous window still inside the sliding window)`.
 * Why sliding rather than fixed: windows here run from seconds to days, and a fixed window lets a
 * client spend twice its budget around a boundary (100 at 23:59 and 100 at 00:00 of a daily
 * window); the estimate smooths that out with two counters per key and one round trip, where an
 * exact sliding log would keep one entry per request (unbounded for a 100,000-per-day budget).
 */

export interface WindowPosition {
  /** Index of the current fixed window: floor(now / W). */
  index: number;
  /** Milliseconds since the current window began. */
  elapsedMs: number;
  windowMs: number;
}

export function windowPosition(nowMs: number, windowMs: number): WindowPosition {
  const index = Math.floor(nowMs / windowMs);
  return { index, elapsedMs: nowMs - index * windowMs, windowMs };
}

/** Requests counted in the sliding window ending now. */
export function usedInWindow(counts: { previous: number; current: number }, position: WindowPosition): number {
  return counts.current + Math.floor((counts.previous * (position.windowMs - position.elapsedMs)) / position.windowMs);
}

/**
 * Whether `cost` more requests fit. Cost 0 is a check without spending (outcome-aware budgets):
 * it passes while the budget is not yet spent.
 */
export function fits(used: number, cost: number, limit: number): boolean {
  return cost === 0 ? used < limit : used + cost <= limit;
}

/** Milliseconds until the current fixed window ends (the next big step of the estimate). */
export function msUntilWindowEnd(position: WindowPosition): number {
  return position.windowMs - position.elapsedMs;
}

/**
 * Whole seconds (at least 1) until a refused request of `cost` would fit, assuming nothing else is
 * counted meanwhile: first the previous window's share decays, then the current window becomes
 * the previous one and decays in turn.
 */
export function secondsUntilFits(counts: { previous: number; current: number }, position: WindowPosition, cost: number, limit: number): number {
  // The inequalities are strict: the request fits only after the instant computed, hence + 1 ms
  // (rounded to a millisecond first, so floating-point noise does not add a second).
  return Math.max(1, Math.ceil((Math.round(msUntilFits(counts, position, cost, limit)) + 1) / 1000));
}

/**
 * Milliseconds after which a refused request of `cost` would fit, assuming nothing else is
 * counted meanwhile (see secondsUntilFits); it fits only strictly after that instant. Counting
 * elsewhere only adds: the request cannot fit any earlier.
 */
export function msUntilFits(counts: { previous: number; current: number }, position: WindowPosition, cost: number, limit: number): number {
  const need = Math.max(cost, 1);
  const W = position.windowMs;
  // In the current window: floor(previous × (W - e) / W) ≤ limit - current - need.
  const room = limit - counts.current - need;
  let waitMs: number;
  if (room >= 0) {
    waitMs = counts.previous === 0 ? 0 : Math.max(0, W * (1 - (room + 1) / counts.previous) - position.elapsedMs);
  } else if (limit - need < 0) {
    waitMs = 2 * W;
  } else {
    // In the next window the current count becomes the previous one: floor(current × (W - e') / W) ≤ limit - need.
    const next = counts.current === 0 ? 0 : Math.max(0, W * (1 - (limit - need + 1) / counts.current));
    waitMs = W - position.elapsedMs + next;
  }
  return waitMs;
}
