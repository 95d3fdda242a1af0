/**
 * `bulwark probe` as a CI job runs it, against real Envoy sidecars (with bulwark authz and
 * ratelimit behind them): on the deliberately vulnerable backend it finds each planted flaw, with
 * the request and answer that show it; on the hardened demo it finds none. Each run is the
 * executable (cli/main.ts) in its own process, reading the objects from files.
 */
import { runBulwark, type CliRun } from "../../support/bulwark-cli.js";
import { readFile } from "node:fs/promises";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CheckResult, ProbeReport } from "../../../probe/types.js";
import { startDpopTarget, startHardenedDemoTarget, startVulnerableTarget, VULNERABLE_LOGIN_BODY, type ProbeTarget } from "../../support/probe-targets.js";

type Run = CliRun;

function probe(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  return runBulwark(["probe", ...args], env);
}

function probeArgs(target: ProbeTarget, extra: string[] = []): string[] {
  return ["--target", target.url, "-f", target.dir, "--issuer-key", target.issuerKeyFile, "--rate", "200", "--max-requests", "600", "--quiet", "--output", "json", ...extra];
}

/** The figures the issue note reports for each target. */
function summary(name: string, report: ProbeReport): void {
  const count = (outcome: string): number => report.results.filter((r) => r.outcome === outcome).length;
  process.stdout.write(
    `probe ${name}: ${report.requests} requests in ${report.durationMs} ms; failed ${count("failed")}, passed ${count("passed")}, could not run ${count("skipped")}\n`,
  );
}

const failed = (report: ProbeReport): CheckResult[] => report.results.filter((r) => r.outcome === "failed");
const find = (report: ProbeReport, id: string, route?: string): CheckResult | undefined =>
  report.results.find((r) => r.id === id && (route === undefined || r.route?.endsWith(`/rule/${route}`)));

describe("bulwark probe against the deliberately vulnerable backend", () => {
  let target: ProbeTarget;
  let run: Run;
  let report: ProbeReport;
  let junit: string;
  let table: string;
  let sarif: { runs: { results: { ruleId: string; level: string }[] }[] };

  beforeAll(async () => {
    target = await startVulnerableTarget();
    const out = target.dir;
    run = await probe(
      probeArgs(target, [
        "--allow-unsafe-methods",
        "--openapi",
        target.openapiFile ?? "",
        "--login-body",
        VULNERABLE_LOGIN_BODY,
        "--direct-url",
        `http://127.0.0.1:${target.appPort}`,
        "--write",
        `junit=${join(out, "probe.xml")}`,
        "--write",
        `sarif=${join(out, "probe.sarif")}`,
        "--write",
        `table=${join(out, "probe.txt")}`,
      ]),
      {
        BULWARK_PROBE_TOKEN_A: target.tokens[0],
        BULWARK_PROBE_TOKEN_B: target.tokens[1],
      },
    );
    report = JSON.parse(run.stdout) as ProbeReport;
    summary("vulnerable", report);
    junit = await readFile(join(out, "probe.xml"), "utf8");
    table = await readFile(join(out, "probe.txt"), "utf8");
    sarif = JSON.parse(await readFile(join(out, "probe.sarif"), "utf8")) as typeof sarif;
  }, 180_000);

  afterAll(async () => {
    await target?.stop();
  });

  it("exits 5 (a critical finding) and reports every class", () => {
    expect(run.code, run.stderr).toBe(5);
    expect(new Set(report.results.map((r) => r.checkClass))).toEqual(new Set(["authentication", "bola", "bypass", "rate-limits", "lifecycle", "transport", "exposure"]));
  });

  it("finds the missing ownership rule: user a reads user b's profile", () => {
    const bola = find(report, "bola/missing-ownership-rule", "profile");
    expect(bola?.outcome, bola?.reason).toBe("failed");
    expect(bola?.reason).toContain("no ownership rule covers {userId}");
    expect(bola?.evidence[0]?.url).toBe(`${target.url}/v1/users/user-b/profile`);
    expect(bola?.evidence[0]?.status).toBe(200);
  });

  it("finds the ownership rule shadowed by the catch-all: no token and user a on b's orders both get through", () => {
    const missing = find(report, "authentication/missing-token", "orders");
    expect(missing?.outcome, missing?.reason).toBe("failed");
    expect(missing?.reason).toContain("rule/public, which comes before");
    const bola = find(report, "bola/ownership-rule", "orders");
    expect(bola?.outcome, bola?.reason).toBe("failed");
  });

  it("finds the per-address budget a forged X-Forwarded-For escapes, while one address is still limited", () => {
    const forged = find(report, "rate-limits/forged-address", "search");
    expect(forged?.outcome, forged?.reason).toBe("failed");
    expect(forged?.reason).toContain("clientAddress believes X-Forwarded-For from any peer");
    expect(find(report, "rate-limits/budget", "search")?.outcome).toBe("passed");
  });

  it("finds the Service that bypasses the sidecar, and the app answering there without a token", () => {
    const service = find(report, "exposure/service-bypasses-sidecar");
    expect(service?.outcome).toBe("failed");
    expect(service?.reason).toContain("Service vuln-api-direct port 8080");
    const direct = find(report, "exposure/app-reachable-directly");
    expect(direct?.outcome, direct?.reason).toBe("failed");
  });

  it("finds the shadow endpoint", () => {
    const shadow = find(report, "exposure/shadow-endpoints");
    expect(shadow?.outcome).toBe("failed");
    expect(shadow?.reason).toContain("/internal/debug");
    expect(shadow?.evidence.map((e) => e.url)).toEqual([`${target.url}/internal/debug`]);
  });

  it("finds the bypass through path case and trailing slash (the policy says the backend tells them apart; the app does not)", () => {
    for (const form of ["path-case", "trailing-slash"]) {
      const bypass = find(report, `bypass/${form}`, "account");
      expect(bypass?.outcome, bypass?.reason).toBe("failed");
      expect(bypass?.evidence[0]?.status).toBe(200);
    }
    // The sidecar itself merges slashes, resolves dot segments, redirects %2F and refuses matrix parameters.
    for (const form of ["duplicate-slash", "dot-segment", "encoded-slash", "matrix-parameter", "head-for-get", "duplicated-header"])
      expect(find(report, `bypass/${form}`, "account")?.outcome, form).toBe("passed");
    // The app honours X-HTTP-Method-Override; the sidecar refuses the header (400) before any rule.
    const override = find(report, "bypass/method-override", "cart-reset");
    expect(override?.outcome, override?.reason).toBe("passed");
    expect(override?.evidence.map((e) => e.status)).toEqual([400, 400, 400]);
  });

  it("finds the failed-login budget that successful logins spend, and passes the one that counts failures only", () => {
    const v2 = find(report, "rate-limits/failed-login-budget", "login-v2");
    expect(v2?.outcome, v2?.reason).toBe("failed");
    expect(v2?.reason).toContain("successful logins spend the budget: login number 4 was refused with 429 after 3 answered");
    expect(v2?.evidence.map((e) => [e.method, e.status])).toEqual([
      ["POST", 429],
      ["POST", 200],
    ]);
    const v1 = find(report, "rate-limits/failed-login-budget", "login");
    expect(v1?.outcome, v1?.reason).toBe("passed");
    expect(v1?.reason).toBe("4 successful logins all answered; after 3 failed ones the next was refused with 429");
    expect(v1?.evidence.map((e) => e.status)).toEqual([429, 401, 200]);
  });

  it("finds what the OpenAPI document declares and no rule does: the wallets anyone reads through the catch-all", () => {
    const undeclared = find(report, "exposure/openapi-undeclared");
    expect(undeclared?.outcome, undeclared?.reason).toBe("failed");
    expect(undeclared?.reason).toContain("the app answers 2 documented path(s) no rule declares: GET /v1/wallets/w-1, GET /internal/debug.");
    expect(undeclared?.reason).toContain("through apisecuritypolicy/shop/vuln/rule/public");
    const wallets = report.results.find((r) => r.id === "bola/openapi-objects" && r.title.includes("/v1/wallets/{ownerId}"));
    expect(wallets?.outcome, wallets?.reason).toBe("failed");
    expect(wallets?.evidence[0]?.url).toBe(`${target.url}/v1/wallets/user-b`);
    expect(wallets?.evidence[0]?.status).toBe(200);
    expect(find(report, "exposure/openapi-undocumented-rules")?.outcome).toBe("passed");
  });

  it("reports what it did not check as could not run or not applicable, with why, never as passed", () => {
    expect(find(report, "transport/mtls")?.reason).toBe("not applicable: the target is plain HTTP (mTLS is checked on an https:// target)");
    expect(find(report, "transport/certificate")?.reason).toContain("plain HTTP");
    expect(find(report, "authentication/dpop-replayed-proof")?.reason).toMatch(/^not applicable: no route binds tokens to a key/);
  });

  it("writes the same findings as a table, JUnit XML and SARIF", () => {
    expect(table).toMatch(/^ {2}FAIL CRITICAL {2}bola\/missing-ownership-rule {2}user a cannot read user b's objects on apisecuritypolicy\/shop\/vuln\/rule\/profile/m);
    expect(table).toContain(`        > GET ${target.url}/v1/users/user-b/profile`);
    expect(table).toMatch(new RegExp(`^${failed(report).length} failed, \\d+ passed, \\d+ could not run$`, "m"));
    expect(junit).toContain(`failures="${failed(report).length}"`);
    expect(junit).toContain('<failure type="critical"');
    const results = sarif.runs[0]?.results ?? [];
    expect(results).toHaveLength(failed(report).length);
    expect(results.map((r) => r.ruleId)).toContain("bola/missing-ownership-rule");
  });
});

describe("bulwark probe against the hardened demo backend", () => {
  let target: ProbeTarget;
  let run: Run;
  let report: ProbeReport;

  beforeAll(async () => {
    target = await startHardenedDemoTarget();
    run = await probe(probeArgs(target, ["--token-a", target.tokens[0], "--token-b", target.tokens[1], "--openapi", target.openapiFile ?? ""]));
    report = JSON.parse(run.stdout) as ProbeReport;
    summary("hardened", report);
  }, 180_000);

  afterAll(async () => {
    await target?.stop();
  });

  it("finds nothing and exits 0", () => {
    expect(failed(report).map((r) => `${r.id} ${r.route ?? ""}: ${r.reason}`)).toEqual([]);
    expect(run.code, run.stderr).toBe(0);
  });

  it("really exercised the protections: tokens, bypass forms, app versions, deprecations, the retired API, budgets, shadow paths", () => {
    const passed = new Set(report.results.filter((r) => r.outcome === "passed").map((r) => r.id));
    for (const id of [
      "authentication/missing-token",
      "authentication/tampered-token",
      "authentication/alg-none",
      "authentication/expired",
      "authentication/not-yet-valid",
      "authentication/wrong-audience",
      "authentication/too-old",
      "bypass/path-case",
      "bypass/matrix-parameter",
      "bypass/head-for-get",
      "bypass/duplicated-header",
      "lifecycle/outdated-app",
      "lifecycle/deprecation-headers",
      "lifecycle/retired-410",
      "rate-limits/budget",
      "exposure/shadow-endpoints",
      "exposure/openapi-undeclared",
      "exposure/openapi-undocumented-rules",
      "exposure/service-bypasses-sidecar",
    ])
      expect(passed, id).toContain(id);
    expect(target.hits.some((h) => h.startsWith("/internal") || h.startsWith("/v1/admin"))).toBe(false);
    expect(find(report, "exposure/openapi-undeclared")?.reason).toBe(
      "2 documented path(s) no rule declares were refused (404). Not sent (unsafe methods; --allow-unsafe-methods): DELETE /v1/admin/users/{userId}.",
    );
  });
});

describe("bulwark probe against sender-constrained tokens (DPoP)", () => {
  let target: ProbeTarget & { dpopKeyFiles: [string, string] };
  let run: Run;
  let report: ProbeReport;

  beforeAll(async () => {
    target = await startDpopTarget();
    run = await probe(
      probeArgs(target, [
        "--token-a",
        target.tokens[0],
        "--token-b",
        target.tokens[1],
        "--dpop-key-a",
        target.dpopKeyFiles[0],
        "--dpop-key-b",
        target.dpopKeyFiles[1],
        "--checks",
        "authentication,bola",
      ]),
    );
    report = JSON.parse(run.stdout) as ProbeReport;
    summary("dpop", report);
  }, 180_000);

  afterAll(async () => {
    await target?.stop();
  });

  it("signs proofs with the users' keys: the owner gets through, a Bearer downgrade, a replayed proof, another device's key and user b's object are refused", () => {
    expect(failed(report)).toEqual([]);
    for (const id of [
      "authentication/dpop-downgrade",
      "authentication/dpop-replayed-proof",
      "authentication/dpop-other-key",
      "authentication/tampered-token",
      "bola/ownership-rule",
    ])
      expect(find(report, id, "orders")?.outcome, `${id}: ${find(report, id, "orders")?.reason ?? "missing"}`).toBe("passed");
    expect(find(report, "authentication/dpop-replayed-proof")?.reason).toContain("dpop_proof_replayed");
    expect(find(report, "bola/ownership-rule")?.evidence[1]?.status).toBe(200);
    expect(target.hits.filter((h) => h === "/v1/users/user-a/orders").length).toBeGreaterThanOrEqual(3);
    expect(target.hits).not.toContain("/v1/users/user-b/orders");
    expect(run.code).toBe(0);
  });

  it("reports the classes it was told to leave out as could not run", () => {
    expect(find(report, "rate-limits/all")?.reason).toBe("could not run: not selected (--checks)");
  });
});
