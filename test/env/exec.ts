import { spawn } from "node:child_process";
import { PrerequisiteError } from "./errors.js";

export interface ExecOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** What to tell the user when the command itself is not installed. */
  missingFix: string;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
}

/**
 * Runs a command to completion. A missing executable becomes a PrerequisiteError;
 * a non-zero exit becomes an Error carrying the tail of its output.
 */
export function exec(command: string, args: readonly string[], options: ExecOptions): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") {
        reject(new PrerequisiteError(`${command} is not installed or not on PATH`, options.missingFix));
      } else {
        reject(error);
      }
    });
    child.on("close", (code, signal) => {
      if (code === 0) {
        resolve({ stdout, stderr });
        return;
      }
      const tail = (stderr || stdout).trim().split("\n").slice(-15).join("\n");
      reject(new Error(`${command} ${args.join(" ")} exited with ${code ?? signal}:\n${tail}`));
    });
  });
}

/** True when `command` can be started (it is on PATH or an existing path). */
export async function isInstalled(command: string, versionArgs: readonly string[] = ["--version"]): Promise<boolean> {
  try {
    await exec(command, versionArgs, { missingFix: "" });
    return true;
  } catch {
    return false;
  }
}
