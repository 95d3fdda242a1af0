import type { Logger } from "pino";
import type { PolicyStatus } from "../api/v1alpha1/policy.js";
import type { Leadership, ReportBook, StatusSink } from "../controller/ports.js";
import type { PolicyRef } from "../kube/status-writer.js";
import type { SidecarReport } from "../controller/sidecar-reports.js";

/** One controller and no API server: it always leads. */
export const soloLeadership: Leadership = {
  isLeader: () => true,
  onChange: () => undefined,
};

/** One replica: no other replica reports sidecars, trusts roots or leaves records to collect. */
export class SoloReports implements ReportBook {
  onChange(): void {}
  start(): Promise<void> {
    return Promise.resolve();
  }
  stop(): Promise<void> {
    return Promise.resolve();
  }
  schedule(): void {}
  inheritedReport(): SidecarReport | undefined {
    return undefined;
  }
  forget(): void {}
  retain(): void {}
  fromOthers(): SidecarReport | undefined {
    return undefined;
  }
  replicasNotTrusting(): string[] {
    return [];
  }
  collectGarbage(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * Policy status without an API server: each policy's conditions are logged when they change (the
 * lines a developer watches instead of `kubectl get`), and Events as log lines.
 */
export class LoggedStatus implements StatusSink {
  private readonly last = new Map<string, string>();

  constructor(private readonly log: Logger) {}

  write(ref: PolicyRef, _current: PolicyStatus | undefined, desired: PolicyStatus): Promise<boolean> {
    const key = `${ref.namespace}/${ref.name}`;
    const conditions = (desired.conditions ?? []).map((c) => ({ type: c.type, status: c.status, reason: c.reason, message: c.message }));
    const signature = JSON.stringify(conditions);
    if (this.last.get(key) === signature) return Promise.resolve(false);
    this.last.set(key, signature);
    const ready = conditions.find((c) => c.type === "Ready");
    const line = `policy ${key}: Ready=${ready?.status ?? "Unknown"} (${ready?.reason ?? "no Ready condition"})`;
    if (ready?.status === "True") this.log.info({ policy: key, conditions }, line);
    else this.log.warn({ policy: key, conditions }, line);
    return Promise.resolve(true);
  }

  event(ref: PolicyRef, type: "Normal" | "Warning", reason: string, message: string): Promise<void> {
    const fields = { policy: `${ref.namespace}/${ref.name}`, reason };
    if (type === "Warning") this.log.warn(fields, message);
    else this.log.info(fields, message);
    return Promise.resolve();
  }
}
