/**
 * Condition types and reasons of APISecurityPolicy status. Ready summarises the others for
 * kstatus (Flux, Argo CD): with observedGeneration equal to metadata.generation and Ready=True
 * the policy is Current; Ready=False means in progress or failed, with the reason of the first
 * condition that is not True.
 */
export const ConditionType = {
  /** The spec is valid and the policy governs its targets (it did not lose them to an older policy). */
  Accepted: "Accepted",
  /** Every object the policy refers to (Services, Secrets with keys) exists and is usable. */
  ResolvedRefs: "ResolvedRefs",
  /** Every sidecar of the targets runs the configuration of this generation (ACKed by Envoy). */
  Programmed: "Programmed",
  /** Accepted, ResolvedRefs and Programmed are all True. */
  Ready: "Ready",
  /**
   * True when the policy is enforced as written but part of it probably does not do what its
   * author means (a rule no request can reach, keys fetched over plain http); the message lists
   * each. Ready does not depend on it, so kstatus-based tools (Flux, Argo CD) still see the
   * policy as Current: a warning is for people to read, not a failed rollout.
   */
  Warnings: "Warnings",
} as const;
export type ConditionType = (typeof ConditionType)[keyof typeof ConditionType];

export const AcceptedReason = {
  Accepted: "Accepted",
  /** The spec breaks a rule only the operator can check. */
  Invalid: "Invalid",
  /** An older policy already governs one of the targets; the message names it. */
  Conflicted: "Conflicted",
  /**
   * Translating the policy into Envoy configuration failed (the message names the step and the
   * error). Only this policy is affected: its sidecars keep their last good configuration and
   * every other policy is programmed as usual.
   */
  TranslationFailed: "TranslationFailed",
} as const;

export const ResolvedRefsReason = {
  ResolvedRefs: "ResolvedRefs",
  TargetNotFound: "TargetNotFound",
  SecretNotFound: "SecretNotFound",
  /** The Secret exists but its key is missing or does not hold a valid JWKS. */
  InvalidSecret: "InvalidSecret",
} as const;

export const ProgrammedReason = {
  Programmed: "Programmed",
  /** Sidecars have not yet acknowledged this generation. */
  Pending: "Pending",
  /** A sidecar rejected the configuration (NACK); the message carries Envoy's error. */
  Rejected: "Rejected",
  /** The targets have no sidecars (yet); nothing to program. */
  NoSidecars: "NoSidecars",
} as const;

export const WarningsReason = {
  /** Status False: nothing to report. */
  NoWarnings: "NoWarnings",
  /** A rule never applies: an earlier rule matches every request it matches. */
  ShadowedRule: "ShadowedRule",
  /** A JWKS is fetched over plain http, where it can be replaced on the way. */
  PlaintextJwksUri: "PlaintextJwksUri",
} as const;

export const ReadyReason = {
  Ready: "Ready",
  ...AcceptedReason,
  ...ResolvedRefsReason,
  ...ProgrammedReason,
} as const;
