import { compareStrings } from "../../common/order.js";
import type { CheckResult, ProbeReport, Severity } from "../types.js";

/**
 * SARIF 2.1.0: one rule per check id, one result per failed check (what code-scanning tools show
 * as alerts), located at the route's URL; checks that could not run are listed as notifications
 * of the run, so a dashboard shows they were not checked.
 */

const level: Record<Severity, "error" | "warning" | "note"> = { critical: "error", high: "error", medium: "warning", low: "note", info: "note" };
const securitySeverity: Record<Severity, string> = { critical: "9.5", high: "8.0", medium: "5.5", low: "3.0", info: "0.0" };

function rules(results: readonly CheckResult[]): Record<string, unknown>[] {
  const byId = new Map<string, CheckResult>();
  for (const r of results) if (!byId.has(r.id)) byId.set(r.id, r);
  return [...byId.values()]
    .sort((a, b) => compareStrings(a.id, b.id))
    .map((r) => ({
      id: r.id,
      name: r.id.replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ? c.toUpperCase() : "")),
      shortDescription: { text: r.title.replace(/ on .*$/, "") },
      properties: { tags: ["security", `bulwark-probe/${r.checkClass}`], "security-severity": securitySeverity[r.severity] },
    }));
}

export function sarifReport(report: ProbeReport, version: string): string {
  const failed = report.results.filter((r) => r.outcome === "failed");
  const skipped = report.results.filter((r) => r.outcome === "skipped");
  const sarif = {
    $schema: "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json",
    version: "2.1.0",
    runs: [
      {
        tool: { driver: { name: "bulwark probe", version, rules: rules(report.results) } },
        invocations: [
          {
            executionSuccessful: true,
            startTimeUtc: report.startedAt,
            toolExecutionNotifications: skipped.map((r) => ({ level: "note", message: { text: `${r.id} (${r.title}): ${r.reason}` }, descriptor: { id: r.id } })),
          },
        ],
        results: failed.map((r) => ({
          ruleId: r.id,
          level: level[r.severity],
          message: { text: `${r.title}: ${r.reason}` },
          locations: [{ physicalLocation: { artifactLocation: { uri: r.evidence[0]?.url ?? report.target } } }],
          properties: { route: r.route ?? "", policy: report.policy, evidence: r.evidence },
        })),
      },
    ],
  };
  return `${JSON.stringify(sarif, null, 2)}\n`;
}
