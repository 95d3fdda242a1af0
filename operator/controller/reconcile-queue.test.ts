import { describe, expect, it } from "vitest";
import { silentLog } from "../../test/support/controller-fakes.js";
import { waitFor } from "../../test/support/poll.js";
import { ReconcileQueue } from "./reconcile-queue.js";

const tick = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe("ReconcileQueue", () => {
  it("runs jobs one after another, and a failed job does not stop the line", async () => {
    const queue = new ReconcileQueue(silentLog);
    const log: string[] = [];
    queue.run(async () => {
      log.push("a start");
      await tick(20);
      log.push("a end");
    });
    queue.run(() => {
      throw new Error("broken");
    });
    queue.run(() => {
      log.push("c");
    });
    await queue.stop();
    expect(log).toEqual(["a start", "a end", "c"]);
  });

  it("coalesces a burst of requests into one run, due at the earliest requested time", async () => {
    const queue = new ReconcileQueue(silentLog);
    let runs = 0;
    queue.debounce("r", 10_000, () => void (runs += 1));
    queue.debounce("r", 20, () => void (runs += 1));
    queue.debounce("r", 5_000, () => void (runs += 1));
    await waitFor("one run", () => runs === 1);
    await tick(50);
    expect(runs).toBe(1);
    expect(queue.isPending("r")).toBe(false);
    await queue.stop();
  });

  it("runs nothing once stopped, and a cancelled wake-up never fires", async () => {
    const queue = new ReconcileQueue(silentLog);
    let runs = 0;
    queue.wakeUp("w", 10, () => void (runs += 1));
    queue.cancel("w");
    queue.debounce("r", 10, () => void (runs += 1));
    await queue.stop();
    queue.run(() => void (runs += 1));
    await tick(40);
    expect(runs).toBe(0);
  });
});
