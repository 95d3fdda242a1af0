import { WarningsReason } from "../api/v1alpha1/conditions.js";
import type { ConditionData } from "./conditions.js";
import type { Resolution, ResolvedPolicy } from "./resolve.js";

/** What the Warnings condition says to a policy whose spec.telemetry has nowhere to go. */
export const TELEMETRY_WITHOUT_RECEIVER =
  "spec.telemetry is enabled but this installation has no telemetry receiver (the controller's --telemetry-address; chart value telemetry.enabled), so its sidecars stream nothing";

function asksForTelemetry(p: ResolvedPolicy): boolean {
  return p.policy?.spec.telemetry?.enabled === true;
}

function withWarning(warnings: ConditionData): ConditionData {
  if (warnings.status !== "True") return { status: "True", reason: WarningsReason.TelemetryWithoutReceiver, message: TELEMETRY_WITHOUT_RECEIVER };
  return { ...warnings, message: `${warnings.message}; ${TELEMETRY_WITHOUT_RECEIVER}` };
}

/**
 * The resolution with a warning on each policy that asks for telemetry when the installation has
 * no receiver (translation settings, which resolution does not see). The same object when there
 * is nothing to say; otherwise only the policies concerned are copies.
 */
export function warnTelemetryWithoutReceiver(resolution: Resolution, hasReceiver: boolean): Resolution {
  if (hasReceiver || !resolution.policies.some(asksForTelemetry)) return resolution;
  return { ...resolution, policies: resolution.policies.map((p) => (asksForTelemetry(p) ? { ...p, warnings: withWarning(p.warnings) } : p)) };
}
