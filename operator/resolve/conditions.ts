import { AcceptedReason, ResolvedRefsReason } from "../api/v1alpha1/conditions.js";
import { errorMessage } from "../../common/errors.js";

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

/** What a step of translation threw, in words: its message, or the value itself. */
export function errorText(error: unknown): string {
  return errorMessage(error);
}

/**
 * Accepted=False for a policy whose translation threw in `step`: the policy is not programmed,
 * and `sidecars` keep their last good configuration.
 */
export function translationFailed(step: string, error: unknown, sidecars?: number): ConditionData {
  const kept = sidecars === undefined ? "" : ` Its ${sidecars} sidecar(s) keep their last good configuration.`;
  return {
    status: "False",
    reason: AcceptedReason.TranslationFailed,
    message: `Translating the policy failed while ${step}: ${errorText(error)}.${kept} Other policies are not affected.`,
  };
}

/**
 * Records on `resolved` that a later step of its translation threw: Accepted=False, and the
 * sidecars it governs are held at their last good configuration instead of being reprogrammed.
 */
export function failTranslation(resolved: { accepted: ConditionData; governed: { sidecars: string[] }[]; held: string[] }, step: string, error: unknown): void {
  const sidecars = [...new Set([...resolved.held, ...resolved.governed.flatMap((g) => g.sidecars)])].sort();
  resolved.accepted = translationFailed(step, error, sidecars.length);
  resolved.held = sidecars;
}
