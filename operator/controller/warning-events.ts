import type { PolicyStatus } from "../api/v1alpha1/policy.js";
import type { ConditionData } from "../resolve/conditions.js";
import type { PolicyRef } from "../kube/status-writer.js";
import type { StatusSink } from "./ports.js";

/**
 * One Warning Event per change of what a warning condition says (`SidecarBypass`: the Service
 * and port that reach a policy's pods past their sidecar; `Warnings`: what the policy says that
 * is probably unintended), not one per reconcile. What the status already says was announced (by
 * this replica before a restart, or by the previous leader). The Event's reason is the
 * condition's reason when `reasonOfCondition` is set (e.g. `ShadowedRule`), else the condition's type.
 */
export class WarningEvents {
  private readonly announced = new Map<string, string>();

  constructor(
    private readonly writer: StatusSink,
    private readonly conditionType: string,
    private readonly reasonOfCondition = false,
  ) {}

  /** `warning`: the condition when it is True (a warning stands), undefined otherwise. */
  async record(key: string, ref: PolicyRef, warning: ConditionData | undefined, current: PolicyStatus | undefined): Promise<void> {
    if (!this.announced.has(key)) {
      const written = current?.conditions?.find((c) => c.type === this.conditionType);
      this.announced.set(key, written?.status === "True" ? written.message : "");
    }
    const message = warning?.message ?? "";
    if (this.announced.get(key) === message) return;
    this.announced.set(key, message);
    if (warning) await this.writer.event(ref, "Warning", this.reasonOfCondition ? warning.reason : this.conditionType, warning.message);
  }

  /** Forgets policies that no longer exist. */
  retain(keys: ReadonlySet<string>): void {
    for (const key of this.announced.keys()) if (!keys.has(key)) this.announced.delete(key);
  }
}
