import { describe, expect, it } from "vitest";
import { exitCodeOf } from "../run.js";
import type { CheckResult, ProbeReport } from "../types.js";
import { junitReport } from "./junit.js";
import { sarifReport } from "./sarif.js";
import { jsonReport, textReport } from "./text.js";

const evidence = [
  {
    method: "GET",
    url: "http://api.test/v1/users/b/profile",
    headers: [["authorization", "Bearer eyJ…(200 chars)"]] as [string, string][],
    status: 200,
    responseHeaders: {},
    body: '{"user":"b"} <&>',
  },
];
const results: CheckResult[] = [
  {
    id: "bola/missing-ownership-rule",
    checkClass: "bola",
    title: "user a cannot read user b's objects on profile",
    route: "p/rule/profile",
    outcome: "failed",
    severity: "critical",
    reason: "user a read user b's object",
    evidence,
  },
  {
    id: "authentication/missing-token",
    checkClass: "authentication",
    title: "no token is refused on orders",
    outcome: "passed",
    severity: "critical",
    reason: "refused with 401",
    evidence: [],
  },
  { id: "transport/mtls", checkClass: "transport", title: "mTLS", outcome: "skipped", severity: "high", reason: "could not run: not implemented in this version", evidence: [] },
  { id: "lifecycle/deprecation-headers", checkClass: "lifecycle", title: "Deprecation on catalog", outcome: "failed", severity: "low", reason: "missing", evidence: [] },
];
const report: ProbeReport = { target: "http://api.test/", policy: "shop/api", startedAt: "2026-12-03T06:00:00.000Z", durationMs: 1234, requests: 7, results };

describe("probe reports", () => {
  it("JUnit: one suite per class, failures with their evidence escaped, checks that could not run as skipped", () => {
    const xml = junitReport(report);
    expect(xml).toContain('<testsuites name="bulwark probe" tests="4" failures="2" skipped="1" errors="0" time="1.234">');
    expect(xml).toContain('<testsuite name="bulwark probe bola" tests="1" failures="1" skipped="0" errors="0">');
    expect(xml).toContain('<skipped message="could not run: not implemented in this version"/>');
    expect(xml).toContain("{&quot;user&quot;:&quot;b&quot;} &lt;&amp;&gt;");
    expect(xml).not.toContain("<&>");
  });

  it("SARIF: a result per failed check, a rule per check id, what could not run as notifications", () => {
    const sarif = JSON.parse(sarifReport(report, "0.1.0")) as {
      version: string;
      runs: { tool: { driver: { rules: { id: string }[] } }; results: { ruleId: string; level: string }[]; invocations: { toolExecutionNotifications: unknown[] }[] }[];
    };
    expect(sarif.version).toBe("2.1.0");
    const run = sarif.runs[0];
    expect(run?.results.map((r) => [r.ruleId, r.level])).toEqual([
      ["bola/missing-ownership-rule", "error"],
      ["lifecycle/deprecation-headers", "note"],
    ]);
    expect(run?.tool.driver.rules).toHaveLength(4);
    expect(run?.invocations[0]?.toolExecutionNotifications).toHaveLength(1);
  });

  it("table and JSON carry the counts; the exit code follows the worst failed severity at --fail-on or worse", () => {
    expect(textReport(report)).toContain("2 failed, 1 passed, 1 could not run");
    expect((JSON.parse(jsonReport(report)) as { summary: unknown }).summary).toEqual({ passed: 1, failed: 2, skipped: 1 });
    expect(exitCodeOf(report, "low")).toBe(5);
    expect(exitCodeOf({ ...report, results: results.filter((r) => r.severity !== "critical") }, "low")).toBe(3);
    expect(exitCodeOf({ ...report, results: results.filter((r) => r.severity !== "critical") }, "high")).toBe(0);
    expect(exitCodeOf({ ...report, results: [] }, "low")).toBe(0);
  });
});
