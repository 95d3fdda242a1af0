/** The error of a command whose reply did not come in time. */
export class ReplyTimeoutError extends Error {
  constructor(timeoutMs: number) {
    super(`no reply from redis within ${timeoutMs} ms`);
    this.name = "ReplyTimeoutError";
  }
}

interface Pending {
  deadline: number;
  settled: boolean;
  reject: (error: Error) => void;
}

/** A slot of the queue whose command was dealt with. */
const DONE: Pending = { deadline: 0, settled: true, reject: () => undefined };

/**
 * Fails commands whose reply has not come within timeoutMs, counting only time the process could
 * have read it. A per-command timer alone (ioredis's commandTimeout) also fires when the event
 * loop was merely busy (a long garbage collection, a descheduled process): timers run before the
 * loop reads sockets, so a reply already waiting in the socket lost to its own timeout and the
 * store fell back to memory for nothing. Here a deadline that passed is only acted on in the
 * loop's check phase (setImmediate), after the poll phase has read what arrived meanwhile.
 *
 * One timer for all commands (their deadlines come in order, the timeout being one), not one
 * per command.
 */
export class ReplyDeadline {
  private queue: Pending[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;
  private sweepScheduled = false;

  constructor(
    private readonly timeoutMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** `reply`, or a ReplyTimeoutError when it does not settle in time. */
  within<T>(reply: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const pending: Pending = { deadline: this.now() + this.timeoutMs, settled: false, reject };
      reply.then(
        (value) => {
          pending.settled = true;
          resolve(value);
        },
        (error: unknown) => {
          pending.settled = true;
          reject(error instanceof Error ? error : new Error(String(error)));
        },
      );
      this.queue.push(pending);
      this.timer ??= setTimeout(this.expire, this.timeoutMs + 1);
    });
  }

  /** Commands waiting for their reply. */
  get waiting(): number {
    let n = 0;
    for (let i = this.head; i < this.queue.length; i++) if (!(this.queue[i] as Pending).settled) n++;
    return n;
  }

  private readonly expire = (): void => {
    this.timer = undefined;
    if (this.sweepScheduled) return;
    this.sweepScheduled = true;
    setImmediate(this.sweep);
  };

  private readonly sweep = (): void => {
    this.sweepScheduled = false;
    const now = this.now();
    while (this.head < this.queue.length) {
      const first = this.queue[this.head] as Pending;
      if (!first.settled) {
        if (first.deadline > now) break;
        first.settled = true;
        first.reject(new ReplyTimeoutError(this.timeoutMs));
      }
      // Not kept until the queue is trimmed: what a settled command's promise holds dies young.
      this.queue[this.head++] = DONE;
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
      return;
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    const next = (this.queue[this.head] as Pending).deadline - now;
    this.timer ??= setTimeout(this.expire, Math.max(1, Math.ceil(next)));
  };

  /** Stops the timer (the pending promises are left to their replies). */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
