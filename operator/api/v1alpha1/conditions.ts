/**
 * Condition types and reasons of APISecurityPolicy status. Ready summarises the others; Stalled
 * and Reconciling say, in kstatus's terms (Flux, Argo CD, `kubectl wait`), whether a policy that
 * is not Ready is doomed until something changes (Failed) or on its way (InProgress). With
 * observedGeneration equal to metadata.generation, Ready=True and neither of those two present,
 * the policy is Current.
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
   * kstatus's abnormal-true condition: present, and True, only while the policy cannot progress
   * without a change by someone (its spec, a Secret, a Service, another policy, Envoy's rules); its
   * reason is Ready's. Absent otherwise, so kstatus reads the policy as Failed only then.
   */
  Stalled: "Stalled",
  /**
   * kstatus's abnormal-true condition: present, and True, only while the controller is still
   * getting there (sidecars have not yet acknowledged this generation: reason Pending). Absent
   * otherwise, so kstatus reads the policy as InProgress only then.
   */
  Reconciling: "Reconciling",
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
  /** jwks.oidcDiscovery: the issuer's discovery document has not been fetched yet. */
  DiscoveryPending: "DiscoveryPending",
  /** jwks.oidcDiscovery: the discovery document could not be fetched or was refused (the message says why), and no earlier fetch succeeded. */
  DiscoveryFailed: "DiscoveryFailed",
} as const;

export const ProgrammedReason = {
  Programmed: "Programmed",
  /** Sidecars have not yet acknowledged this generation. */
  Pending: "Pending",
  /** A sidecar rejected the configuration (NACK); the message carries Envoy's error. */
  Rejected: "Rejected",
  /**
   * The targets have no sidecars (yet); nothing to program. Programmed and Ready are True with
   * this reason: nothing enforces the policy today, and nothing is left to wait for either (a
   * sidecar that joins gets it with its first configuration); see docs/gitops/README.md.
   */
  NoSidecars: "NoSidecars",
} as const;

export const WarningsReason = {
  /** Status False: nothing to report. */
  NoWarnings: "NoWarnings",
  /** A rule never applies: an earlier rule matches every request it matches. */
  ShadowedRule: "ShadowedRule",
  /** A JWKS is fetched over plain http, where it can be replaced on the way. */
  PlaintextJwksUri: "PlaintextJwksUri",
  /** spec.telemetry is enabled, but the installation runs no telemetry receiver. */
  TelemetryWithoutReceiver: "TelemetryWithoutReceiver",
} as const;

export const ReadyReason = {
  Ready: "Ready",
  ...AcceptedReason,
  ...ResolvedRefsReason,
  ...ProgrammedReason,
} as const;
