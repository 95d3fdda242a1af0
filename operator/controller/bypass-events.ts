import type { PolicyStatus } from "../api/v1alpha1/policy.js";
import { SidecarBypassCondition } from "../resolve/bypass.js";
import type { ConditionData } from "../resolve/conditions.js";
import type { PolicyRef, StatusWriter } from "../kube/status-writer.js";

/**
 * One Warning Event per new finding of a Service that reaches a policy's pods past their sidecar
 * (the message names the Service and its port). What the status already says was announced
 * (by this replica before a restart, or by the previous leader).
 */
export class BypassEvents {
  private readonly announced = new Map<string, string>();

  constructor(private readonly writer: StatusWriter) {}

  async record(key: string, ref: PolicyRef, bypass: ConditionData | undefined, current: PolicyStatus | undefined): Promise<void> {
    if (!this.announced.has(key)) {
      const written = current?.conditions?.find((c) => c.type === SidecarBypassCondition);
      this.announced.set(key, written?.status === "True" ? written.message : "");
    }
    const message = bypass?.message ?? "";
    if (this.announced.get(key) === message) return;
    this.announced.set(key, message);
    if (bypass) await this.writer.event(ref, "Warning", SidecarBypassCondition, bypass.message);
  }
}
