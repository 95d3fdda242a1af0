import { pino } from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ReportSchedule } from "./report-schedule.js";

function reports(): { report: () => Promise<void>; analysis: { endpointsCreated: () => number }; calls: number; created: number; release: () => void } {
  let pending: (() => void) | undefined;
  const r = {
    calls: 0,
    created: 0,
    hold: false,
    analysis: { endpointsCreated: (): number => r.created },
    report: (): Promise<void> => {
      r.calls++;
      return r.hold ? new Promise<void>((resolve) => (pending = resolve)) : Promise.resolve();
    },
    release: (): void => pending?.(),
  };
  return r;
}

describe("ReportSchedule", () => {
  afterEach(() => vi.useRealTimers());

  it("reports every interval, and within a second after an endpoint is first called", async () => {
    vi.useFakeTimers();
    const r = reports();
    const schedule = new ReportSchedule({ reports: r, intervalMs: 10_000, ready: () => true, log: pino({ level: "silent" }) });
    schedule.start();
    await vi.advanceTimersByTimeAsync(3_000);
    expect(r.calls).toBe(0); // nothing new: only the interval reports
    r.created = 1; // a first call of an endpoint
    await vi.advanceTimersByTimeAsync(1_000);
    expect(r.calls).toBe(1);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(r.calls).toBe(1); // nothing new since
    await vi.advanceTimersByTimeAsync(1_000);
    expect(r.calls).toBe(2); // the interval's
    await schedule.stop();
    await vi.advanceTimersByTimeAsync(30_000);
    expect(r.calls).toBe(2);
  });

  it("runs one report at a time and none before it is ready", async () => {
    vi.useFakeTimers();
    const r = Object.assign(reports(), { hold: true });
    let ready = false;
    const schedule = new ReportSchedule({ reports: r, intervalMs: 1_000, ready: () => ready, log: pino({ level: "silent" }) });
    schedule.start();
    r.created = 5;
    await vi.advanceTimersByTimeAsync(3_000);
    expect(r.calls).toBe(0);
    ready = true;
    await vi.advanceTimersByTimeAsync(5_000);
    expect(r.calls).toBe(1); // still running: the others wait
    r.release();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(r.calls).toBe(2);
    r.release();
    await schedule.stop();
  });
});
