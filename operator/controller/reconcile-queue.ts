import { performance } from "node:perf_hooks";
import type { Logger } from "pino";
import { errorMessage } from "../../common/errors.js";

/** The longest delay a Node.js timer takes (about 24.8 days); a later instant is re-checked then. */
export const MAX_TIMER_MS = 2_147_000_000;

/**
 * One line of work for the controller: jobs run one after another, never overlapping, and a
 * failed job is logged (the previous snapshots stay in place) without stopping the line. Named
 * triggers are debounced: a trigger due sooner covers a later request for it.
 */
export class ReconcileQueue {
  private busy: Promise<void> = Promise.resolve();
  private readonly timers = new Map<string, { timer: NodeJS.Timeout; due: number }>();
  private stopped = false;

  constructor(private readonly log: Logger) {}

  /** Runs `work` after whatever runs now. */
  run(work: () => Promise<void> | void): void {
    if (this.stopped) return;
    this.busy = this.busy.then(work).catch((error: unknown) => {
      this.log.error({ err: error instanceof Error ? (error.stack ?? error.message) : errorMessage(error) }, "reconcile failed; the previous snapshots stay in place");
    });
  }

  /** Runs `work` (named `name`) in `delayMs` at the latest; a run of that name already due sooner covers this request too. */
  debounce(name: string, delayMs: number, work: () => Promise<void> | void): void {
    if (this.stopped) return;
    const due = performance.now() + delayMs;
    const pending = this.timers.get(name);
    if (pending && pending.due <= due) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.timers.delete(name);
      this.run(work);
    }, delayMs);
    this.timers.set(name, { timer, due });
  }

  /** Replaces the timer named `name` with one in `delayMs` (capped at MAX_TIMER_MS) that does not keep the process alive; none when `delayMs` is undefined. */
  wakeUp(name: string, delayMs: number | undefined, work: () => void): void {
    this.cancel(name);
    if (delayMs === undefined || this.stopped) return;
    const timer = setTimeout(
      () => {
        this.timers.delete(name);
        work();
      },
      Math.min(delayMs, MAX_TIMER_MS),
    );
    timer.unref();
    this.timers.set(name, { timer, due: performance.now() + delayMs });
  }

  isPending(name: string): boolean {
    return this.timers.has(name);
  }

  cancel(name: string): void {
    const pending = this.timers.get(name);
    if (pending) clearTimeout(pending.timer);
    this.timers.delete(name);
  }

  /** No new work; resolves once the job running now (and those queued) are done. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    await this.busy;
  }
}
