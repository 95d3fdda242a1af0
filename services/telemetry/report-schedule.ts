import type { Logger } from "pino";
import { errorMessage } from "../../common/errors.js";

/** What the schedule drives: TelemetryReporting. */
export interface Reports {
  report(): Promise<void>;
  readonly analysis: { endpointsCreated(): number };
}

export interface ReportScheduleOptions {
  reports: Reports;
  /** The regular report (--report-interval). */
  intervalMs: number;
  /** How often it looks for endpoints called for the first time (default 1 s). */
  newEndpointCheckMs?: number;
  /** Reports only once this says so (the policies are listed). */
  ready: () => boolean;
  log: Logger;
}

/**
 * When bulwark telemetry writes its reports (APIInventory, status.traffic, the saved analysis):
 * every interval, and within a second after an endpoint is called for the first time, so a shadow
 * or zombie endpoint shows in the APIInventory seconds after its first call, not up to an interval
 * later. One report at a time: a report that takes longer than the checks delays the next, so a
 * burst of new endpoints (a start, a new app release) costs at most one report at a time.
 */
export class ReportSchedule {
  private timers: NodeJS.Timeout[] = [];
  private running: Promise<void> | undefined;
  private reportedCreated = -1;

  constructor(private readonly options: ReportScheduleOptions) {}

  start(): void {
    const { intervalMs, newEndpointCheckMs = 1000 } = this.options;
    this.reportedCreated = this.options.reports.analysis.endpointsCreated();
    this.timers.push(setInterval(() => this.run(), intervalMs));
    this.timers.push(
      setInterval(() => {
        if (this.options.reports.analysis.endpointsCreated() !== this.reportedCreated) this.run();
      }, newEndpointCheckMs),
    );
  }

  /** Stops the timers and waits for a report in progress. */
  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.running;
  }

  private run(): void {
    if (this.running || !this.options.ready()) return;
    this.reportedCreated = this.options.reports.analysis.endpointsCreated();
    this.running = this.options.reports
      .report()
      .catch((error: unknown) => this.options.log.warn({ err: errorMessage(error) }, "report failed; the next one tries again"))
      .finally(() => (this.running = undefined));
  }
}
