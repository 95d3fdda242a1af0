/**
 * The GitOps tools' own verdicts on an object: kstatus's `status.Compute` (Flux, kubectl-style
 * waiters) and Argo CD's Lua health check as Argo CD runs it. Both are small Go programs built
 * once into the cache (test/env/provision/go-tools.ts); each reads the object as JSON on stdin.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { provisionGitOpsTools } from "../env/provision/go-tools.js";
import { consoleSteps } from "../env/steps.js";

/** What a tool answered: kstatus's status (Current, InProgress, Failed, …) or Argo CD's health (Healthy, Progressing, Degraded, …). */
export interface Verdict {
  status: string;
  message: string;
}

/** The health script the docs ship for argocd-cm. */
export const argoHealthScript = fileURLToPath(new URL("../../docs/gitops/argocd-health.lua", import.meta.url));

function run(command: string, args: readonly string[], stdin: string): Promise<Verdict> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (out += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (err += c));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) reject(new Error(`${command} exited with ${code}: ${err.trim()}`));
      else resolve(JSON.parse(out) as Verdict);
    });
    child.stdin.end(stdin);
  });
}

export interface GitOpsJudges {
  kstatus(object: unknown): Promise<Verdict>;
  argoHealth(object: unknown): Promise<Verdict>;
}

/** Provisions (first use builds, with progress on stderr) and returns the two judges. */
export async function gitOpsJudges(): Promise<GitOpsJudges> {
  const tools = await provisionGitOpsTools(consoleSteps("gitops tools"));
  return {
    kstatus: (object) => run(tools.kstatus, [], JSON.stringify(object)),
    argoHealth: (object) => run(tools.argoLua, [argoHealthScript], JSON.stringify(object)),
  };
}
