import { checkClasses, type CheckResult, type ProbeReport } from "../types.js";

/** A readable report: one line per check, grouped by class, failures with their request and answer. */

const mark = { passed: "PASS", failed: "FAIL", skipped: "SKIP" } as const;

function cut(text: string, width: number): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > width ? `${flat.slice(0, width - 1)}…` : flat;
}

function evidenceLines(r: CheckResult): string[] {
  return r.evidence.slice(0, 2).map((e) => {
    const headers = e.headers.map(([n, v]) => `${n}: ${v}`).join("; ");
    return `        > ${e.method} ${e.url}${headers ? ` [${headers}]` : ""}\n        < ${e.error ? `no answer: ${e.error}` : `${e.status} ${cut(e.body, 100)}`}`;
  });
}

export function summaryOf(report: ProbeReport): { passed: number; failed: number; skipped: number } {
  const count = (o: CheckResult["outcome"]): number => report.results.filter((r) => r.outcome === o).length;
  return { passed: count("passed"), failed: count("failed"), skipped: count("skipped") };
}

export function textReport(report: ProbeReport): string {
  const lines: string[] = [`bulwark probe of ${report.target} (policy ${report.policy}): ${report.requests} requests in ${(report.durationMs / 1000).toFixed(1)} s`, ""];
  for (const checkClass of checkClasses) {
    const rows = report.results.filter((r) => r.checkClass === checkClass);
    if (rows.length === 0) continue;
    lines.push(checkClass.toUpperCase());
    for (const r of rows) {
      const severity = r.outcome === "failed" ? ` ${r.severity.toUpperCase()}` : "";
      lines.push(`  ${mark[r.outcome]}${severity}  ${r.id}  ${r.title}`);
      lines.push(`        ${cut(r.reason, 200)}`);
      if (r.outcome === "failed") lines.push(...evidenceLines(r));
    }
    lines.push("");
  }
  const s = summaryOf(report);
  lines.push(`${s.failed} failed, ${s.passed} passed, ${s.skipped} could not run`);
  return `${lines.join("\n")}\n`;
}

export function jsonReport(report: ProbeReport): string {
  return `${JSON.stringify({ ...report, summary: summaryOf(report) }, null, 2)}\n`;
}
