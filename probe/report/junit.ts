import { checkClasses, type CheckResult, type ProbeReport } from "../types.js";

/** JUnit XML: one testsuite per check class, one testcase per check; a failed check is a failure, one that could not run is skipped. */

/** Characters XML 1.0 cannot carry (control characters other than tab, newline, carriage return). */
function xmlSafe(text: string): string {
  return [...text]
    .filter((c) => {
      const code = c.charCodeAt(0);
      return code >= 0x20 || code === 0x09 || code === 0x0a || code === 0x0d;
    })
    .join("");
}

function xml(text: string): string {
  return xmlSafe(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" })[c] ?? c);
}

function details(r: CheckResult): string {
  const ex = r.evidence.map(
    (e) => `${e.method} ${e.url}\n${e.headers.map(([n, v]) => `${n}: ${v}`).join("\n")}\n-> ${e.error ? `no answer: ${e.error}` : `${e.status}\n${e.body}`}`,
  );
  return [r.reason, ...ex].join("\n\n");
}

function testcase(r: CheckResult): string {
  const open = `    <testcase classname="bulwark.probe.${xml(r.checkClass)}" name="${xml(`${r.id}: ${r.title}`)}">`;
  if (r.outcome === "passed") return `${open}</testcase>`;
  if (r.outcome === "skipped") return `${open}<skipped message="${xml(r.reason)}"/></testcase>`;
  return `${open}<failure type="${xml(r.severity)}" message="${xml(r.reason)}">${xml(details(r))}</failure></testcase>`;
}

export function junitReport(report: ProbeReport): string {
  const suites = checkClasses
    .map((c) => report.results.filter((r) => r.checkClass === c))
    .filter((rows) => rows.length > 0)
    .map((rows) => {
      const name = rows[0]?.checkClass ?? "";
      const failures = rows.filter((r) => r.outcome === "failed").length;
      const skipped = rows.filter((r) => r.outcome === "skipped").length;
      return `  <testsuite name="bulwark probe ${xml(name)}" tests="${rows.length}" failures="${failures}" skipped="${skipped}" errors="0">\n${rows.map(testcase).join("\n")}\n  </testsuite>`;
    });
  const total = report.results.length;
  const failures = report.results.filter((r) => r.outcome === "failed").length;
  const skipped = report.results.filter((r) => r.outcome === "skipped").length;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="bulwark probe" tests="${total}" failures="${failures}" skipped="${skipped}" errors="0" time="${(report.durationMs / 1000).toFixed(3)}">\n${suites.join("\n")}\n</testsuites>\n`;
}
