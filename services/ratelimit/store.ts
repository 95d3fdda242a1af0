/** One budget's counters at a moment: what the store needs to count and decide atomically. */
export interface CountRequest {
  /** The budget (see budgetKey); the store appends the window index. */
  key: string;
  windowMs: number;
  nowMs: number;
  /** Requests to spend; 0 checks without spending. */
  cost: number;
  limit: number;
}

export interface CountResult {
  previous: number;
  /** The current window's count, after spending when `spent`. */
  current: number;
  spent: boolean;
}

/**
 * Where budgets are counted. `take` spends `cost` only when it fits the sliding window
 * (window.ts), atomically with the read; `add` spends unconditionally (an outcome that happened).
 */
export interface CounterStore {
  take(request: CountRequest): Promise<CountResult>;
  add(request: Omit<CountRequest, "limit">): Promise<void>;
  close(): Promise<void>;
}
