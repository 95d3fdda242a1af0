import { setTimeout as sleep } from "node:timers/promises";
import { describeError } from "../env/errors.js";

/**
 * Polls `probe` every `intervalMs` until it returns a value other than `undefined` or `false`,
 * and returns that value; after `timeoutMs` throws, naming `what` and the probe's last error.
 * The one way the tests wait for something to happen.
 */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 15_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last === undefined ? "" : `: ${describeError(last)}`}`);
    await sleep(intervalMs);
  }
}
