/**
 * Programs the interception rules (rules.ts) into the current network namespace with the
 * `iptables-restore` / `ip6tables-restore` binaries (whichever backend the image's iptables
 * uses), reads them back with `iptables-save`, and fails with a message saying what is missing
 * when anything does not hold: the pod must not start with its app port open.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { hasJumps, interceptionProblem, interceptionRules, missingRules, type Family, type InterceptionOptions } from "./rules.js";

export class InterceptionError extends Error {}

export interface ProgramOptions extends InterceptionOptions {
  /** Directory prefix of the binaries (tests); default: found on PATH. */
  binaryDirectory?: string;
}

export interface ProgramResult {
  family: Family;
  /** The nat table after programming, as iptables-save prints it. */
  saved: string;
}

const TOOLS: Record<Family, { save: string; restore: string }> = {
  ipv4: { save: "iptables-save", restore: "iptables-restore" },
  ipv6: { save: "ip6tables-save", restore: "ip6tables-restore" },
};

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], input?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout?.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr?.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
    if (input === undefined || !child.stdin) return;
    // A tool that exits before reading its input reports why through its exit code and stderr.
    child.stdin.on("error", () => undefined);
    child.stdin.end(input);
  });
}

const CAPABILITY_HINT =
  "the init container needs the NET_ADMIN and NET_RAW capabilities (and to run as root) to program the pod's network namespace; " +
  "if Pod Security or a policy engine forbids them in this namespace, turn interception off (chart value proxy.interception.enabled=false) and close the app port with the chart's NetworkPolicy instead";

function explain(tool: string, result: Run): string {
  const text = (result.stderr || result.stdout).trim().split("\n").slice(0, 5).join("; ");
  const denied = /permission denied|operation not permitted|you must be root|can't initialize/i.test(text);
  return `${tool} failed (exit ${result.code}): ${text || "no output"}${denied ? `; ${CAPABILITY_HINT}` : ""}`;
}

async function tool(command: string, args: string[], input?: string): Promise<Run> {
  try {
    return await run(command, args, input);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new InterceptionError(`${command} not found: the image must carry iptables (Debian package iptables) to intercept inbound traffic`);
    if (code === "EACCES") throw new InterceptionError(`${command} cannot be executed: ${(error as Error).message}`);
    throw error;
  }
}

async function programFamily(options: ProgramOptions, family: Family): Promise<ProgramResult> {
  const dir = options.binaryDirectory ? `${options.binaryDirectory.replace(/\/$/, "")}/` : "";
  const { save, restore } = TOOLS[family];
  const before = await tool(`${dir}${save}`, ["-t", "nat"]);
  if (before.code !== 0) throw new InterceptionError(explain(save, before));
  const input = interceptionRules(options, family, { jumps: hasJumps(before.stdout) });
  const applied = await tool(`${dir}${restore}`, ["--noflush"], input);
  if (applied.code !== 0) throw new InterceptionError(explain(restore, applied));
  const after = await tool(`${dir}${save}`, ["-t", "nat"]);
  if (after.code !== 0) throw new InterceptionError(explain(save, after));
  const missing = missingRules(after.stdout, options);
  if (missing.length > 0) throw new InterceptionError(`${restore} succeeded but the ${family} nat table lacks: ${missing.join("; ")}`);
  return { family, saved: after.stdout };
}

/** Whether the kernel has IPv6 in this network namespace. */
export function hasIpv6(): boolean {
  return existsSync("/proc/net/if_inet6");
}

/**
 * Programs IPv4, and IPv6 whenever the kernel has it in this namespace (an app bound to `::`
 * would otherwise stay reachable over IPv6); throws InterceptionError naming what failed.
 */
export async function programInterception(options: ProgramOptions): Promise<ProgramResult[]> {
  const problem = interceptionProblem(options);
  if (problem) throw new InterceptionError(problem);
  const results = [await programFamily(options, "ipv4")];
  if (hasIpv6()) results.push(await programFamily(options, "ipv6"));
  return results;
}
