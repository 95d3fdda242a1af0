/**
 * What `bulwark probe` produces: one result per check, each in a class (the list), with
 * the exact requests and responses that decided it. Plain data, so every reporter (table, JSON,
 * JUnit, SARIF) reads the same thing.
 */

export const checkClasses = ["authentication", "bola", "bypass", "rate-limits", "lifecycle", "transport", "exposure"] as const;
export type CheckClass = (typeof checkClasses)[number];

export const severities = ["critical", "high", "medium", "low", "info"] as const;
export type Severity = (typeof severities)[number];

/**
 * - passed: the protection is there (the evidence shows it);
 * - failed: a finding (the evidence shows the flaw);
 * - skipped: could not run, and `reason` says why (never counted as passed).
 */
export type Outcome = "passed" | "failed" | "skipped";

/** One request the probe sent and what came back (headers as received; bodies cut short). */
export interface Exchange {
  method: string;
  url: string;
  /** Request headers as sent, in order; tokens shortened to their first characters. */
  headers: [string, string][];
  /** 0 when there was no answer (`error` says why). */
  status: number;
  responseHeaders: Record<string, string>;
  body: string;
  error?: string;
}

export interface CheckResult {
  /** Stable id of the check, e.g. `authentication/missing-token`. */
  id: string;
  checkClass: CheckClass;
  /** What was checked, in one line, naming the route. */
  title: string;
  /** The route of the policy the check is about (`apisecuritypolicy/<ns>/<name>/rule/<rule>`), when there is one. */
  route?: string;
  outcome: Outcome;
  /** How bad the flaw is when the check fails (also kept on passed checks, for JUnit and SARIF rules). */
  severity: Severity;
  /** Why it passed, failed or could not run. */
  reason: string;
  evidence: Exchange[];
}

export interface ProbeReport {
  target: string;
  policy: string;
  startedAt: string;
  durationMs: number;
  requests: number;
  results: CheckResult[];
}

export function severityRank(severity: Severity): number {
  return severities.indexOf(severity);
}
