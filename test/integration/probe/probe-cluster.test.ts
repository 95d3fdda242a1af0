/**
 * `bulwark probe --from-cluster`: the policy comes from the real API server (applied with
 * kubectl), not from files; the probe lists it with the controller's object store and finds the
 * vulnerable backend's missing ownership rule through its real Envoy sidecar all the same.
 */
import { runBulwark, type CliRun } from "../../support/bulwark-cli.js";
import { readFile } from "node:fs/promises";
import { join } from "node:path";

import type { KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import type { ProbeReport } from "../../../probe/types.js";
import { installCrds } from "../../support/crds.js";
import { createNamespace, deleteNamespace, e2eEnvironment, kubeConfig, kubectl, policyManifest, type E2eEnvironment } from "../../support/e2e.js";
import { testEnvironment, uniqueName } from "../../support/environment.js";
import { startVulnerableTarget, type ProbeTarget } from "../../support/probe-targets.js";

function probe(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  return runBulwark(["probe", ...args], env);
}

describe("bulwark probe --from-cluster", () => {
  let env: E2eEnvironment;
  let kc: KubeConfig;
  let namespace: string;
  let target: ProbeTarget;

  beforeAll(async () => {
    env = e2eEnvironment(testEnvironment());
    kc = kubeConfig(env);
    await installCrds();
    namespace = uniqueName("probe");
    await createNamespace(kc, namespace);
    target = await startVulnerableTarget();
    // The vulnerable policy as its team would have applied it.
    const objects = parseAllDocuments(await readFile(join(target.dir, "objects.yaml"), "utf8")).map((d) => d.toJS() as { kind: string; spec: Record<string, unknown> });
    const vulnerable = objects.find((o) => o.kind === "APISecurityPolicy");
    if (!vulnerable) throw new Error("no policy among the target's objects");
    await kubectl(env, ["apply", "--namespace", namespace], policyManifest(namespace, "vuln", vulnerable.spec));
  }, 180_000);

  afterAll(async () => {
    await target?.stop();
    if (namespace) await deleteNamespace(kc, namespace);
  });

  it("reads the policy from the API server and finds the missing ownership rule", async () => {
    const run = await probe([
      "--from-cluster",
      "--kubeconfig",
      env.kubeconfig,
      "--policy",
      `${namespace}/vuln`,
      "--target",
      target.url,
      "--token-a",
      target.tokens[0],
      "--token-b",
      target.tokens[1],
      "--checks",
      "bola,exposure",
      "--rate",
      "200",
      "--quiet",
      "--output",
      "json",
    ]);
    expect(run.code, run.stderr).toBe(5);
    const report = JSON.parse(run.stdout) as ProbeReport;
    expect(report.policy).toBe(`${namespace}/vuln`);
    const bola = report.results.find((r) => r.id === "bola/missing-ownership-rule");
    expect(bola?.outcome, bola?.reason).toBe("failed");
    expect(bola?.route).toBe(`apisecuritypolicy/${namespace}/vuln/rule/profile`);
    // No Pod of the policy in this cluster: the probe says it cannot tell which port is the app's.
    expect(report.results.find((r) => r.id === "exposure/service-bypasses-sidecar")?.reason).toMatch(/^could not run: the objects read hold no Pod/);
  });
});
