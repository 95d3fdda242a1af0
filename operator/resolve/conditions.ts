import { AcceptedReason, ResolvedRefsReason } from "../api/v1alpha1/conditions.js";

/** A condition as translation decides it; the status writer adds times and generations. */
export interface ConditionData {
  status: "True" | "False";
  reason: string;
  message: string;
}

export const accepted = (message = "The policy is valid and governs its targets."): ConditionData => ({ status: "True", reason: AcceptedReason.Accepted, message });

export const resolved = (): ConditionData => ({ status: "True", reason: ResolvedRefsReason.ResolvedRefs, message: "All referenced objects were found." });

export function notResolved(problems: readonly { reason: string; message: string }[]): ConditionData {
  const first = problems[0];
  if (!first) return resolved();
  return { status: "False", reason: first.reason, message: problems.map((p) => p.message).join("; ") };
}
