import { authenticationChecks } from "./checks/authentication.js";
import { bolaChecks } from "./checks/bola.js";
import { bypassChecks } from "./checks/bypass.js";
import type { CheckContext } from "./checks/context.js";
import { exposureChecks } from "./checks/exposure.js";
import { lifecycleChecks } from "./checks/lifecycle.js";
import { rateLimitChecks } from "./checks/rate-limits.js";
import { transportChecks } from "./checks/transport.js";
import type { ProbeClient } from "./client.js";
import type { ProbePlan } from "./plan.js";
import type { IssuerKey } from "./tokens.js";
import { checkClasses, severityRank, type CheckClass, type CheckResult, type ProbeReport, type Severity } from "./types.js";

/**
 * The check classes in the order they run. Rate limits run last: they spend budgets that would
 * otherwise refuse the other checks' requests with 429.
 */
const runners: [CheckClass, (ctx: CheckContext) => Promise<CheckResult[]>][] = [
  ["transport", transportChecks],
  ["authentication", authenticationChecks],
  ["bola", bolaChecks],
  ["bypass", bypassChecks],
  ["lifecycle", lifecycleChecks],
  ["exposure", exposureChecks],
  ["rate-limits", rateLimitChecks],
];

export interface RunOptions {
  plan: ProbePlan;
  client: ProbeClient;
  issuerKey?: IssuerKey;
  /** Only these classes (all when absent); the others are reported as skipped, with why. */
  classes?: readonly CheckClass[];
  /** Before each class runs: its name, the classes done so far and how many run in all. */
  onClass?: (checkClass: CheckClass, classesDone: number, classesTotal: number) => void;
  /** After each class: how many checks and classes have finished. */
  onChecks?: (checksDone: number, classesDone: number) => void;
}

export async function runProbe(options: RunOptions): Promise<ProbeReport> {
  const started = Date.now();
  const ctx: CheckContext = { plan: options.plan, client: options.client, ...(options.issuerKey ? { issuerKey: options.issuerKey } : {}) };
  const results: CheckResult[] = [];
  const total = runners.filter(([c]) => !options.classes || options.classes.includes(c)).length;
  let done = 0;
  for (const [checkClass, run] of runners) {
    if (options.classes && !options.classes.includes(checkClass)) {
      results.push({
        id: `${checkClass}/all`,
        checkClass,
        title: `the ${checkClass} checks`,
        outcome: "skipped",
        severity: "info",
        reason: "could not run: not selected (--checks)",
        evidence: [],
      });
      continue;
    }
    options.onClass?.(checkClass, done, total);
    results.push(...(await run(ctx)));
    done += 1;
    options.onChecks?.(results.length, done);
  }

  results.sort((a, b) => checkClasses.indexOf(a.checkClass) - checkClasses.indexOf(b.checkClass));
  return {
    target: options.plan.target.href,
    policy: options.plan.policy,
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    requests: options.client.requests,
    results,
  };
}

/**
 * The exit code by the worst failed check at `failOn` or worse: 0 none, 3 medium or lower, 4
 * high, 5 critical (1 and 2 stay the tool's own errors and usage mistakes).
 */
export function exitCodeOf(report: ProbeReport, failOn: Severity): number {
  const failed = report.results.filter((r) => r.outcome === "failed" && severityRank(r.severity) <= severityRank(failOn));
  if (failed.length === 0) return 0;
  const worst = Math.min(...failed.map((r) => severityRank(r.severity)));
  return worst === severityRank("critical") ? 5 : worst === severityRank("high") ? 4 : 3;
}
