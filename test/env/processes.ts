import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { describeError, PrerequisiteError } from "./errors.js";

export interface ManagedProcess {
  name: string;
  pid: number;
  logFile: string;
  /** Rejects when the process exits before `stop()` is called. */
  exited: Promise<never>;
  stop(): Promise<void>;
}

export interface StartOptions {
  name: string;
  command: string;
  args: readonly string[];
  logFile: string;
  env?: NodeJS.ProcessEnv;
  /** Keep running after this Node.js process exits (for `env up`). */
  keepAlive?: boolean;
}

const live = new Set<number>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Whatever happens to the test runner, its child processes do not outlive it.
  process.on("exit", () => {
    for (const pid of live) killGroup(pid, "SIGKILL");
  });
}

export function killGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    try {
      process.kill(pid, signal);
      return true;
    } catch {
      return false;
    }
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function logTail(logFile: string, lines = 12): string {
  try {
    return readFileSync(logFile, "utf8").trim().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/** Waits for a process (by pid) to be gone, sending SIGKILL after `graceMs`. */
export async function stopPid(pid: number, graceMs = 5000): Promise<void> {
  if (!killGroup(pid, "SIGTERM")) return;
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(50);
  if (isAlive(pid)) killGroup(pid, "SIGKILL");
  while (isAlive(pid)) await sleep(20);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Starts a long-running process in its own process group, with its output in `logFile`. */
export function startProcess(options: StartOptions): ManagedProcess {
  installExitHook();
  const log = openSync(options.logFile, "a");
  const child = spawn(options.command, options.args, {
    env: options.env ?? process.env,
    stdio: ["ignore", log, log],
    detached: true,
  });
  closeSync(log);
  let stopping = false;
  const exited = new Promise<never>((_resolve, reject) => {
    child.on("error", (error: NodeJS.ErrnoException) => {
      reject(error.code === "ENOENT" ? new PrerequisiteError(`${options.command} does not exist`, "run `npm run env -- up` to provision it") : error);
    });
    child.on("exit", (code, signal) => {
      if (child.pid !== undefined) live.delete(child.pid);
      if (stopping) return;
      const tail = logTail(options.logFile);
      const port = /bind: address already in use|address already in use.*?:(\d+)/i.exec(tail);
      if (port) {
        reject(new PrerequisiteError(`${options.name} could not listen: a port is in use (${port[0]})`, "stop the process that holds it, then retry"));
      } else {
        reject(new Error(`${options.name} exited with ${code ?? signal}; last lines of ${options.logFile}:\n${tail}`));
      }
    });
  });
  exited.catch(() => undefined); // observed by whoever awaits it
  if (child.pid === undefined) {
    return { name: options.name, pid: -1, logFile: options.logFile, exited, stop: () => Promise.resolve() };
  }
  const pid = child.pid;
  if (options.keepAlive) child.unref();
  else live.add(pid);
  return {
    name: options.name,
    pid,
    logFile: options.logFile,
    exited,
    async stop(): Promise<void> {
      stopping = true;
      await stopPid(pid);
      live.delete(pid);
    },
  };
}

/** Polls `probe` until it returns true; fails early if the process exits, or after `timeoutMs`. */
export async function waitUntilReady(proc: ManagedProcess, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await Promise.race([probe(), proc.exited])) return;
    } catch (error) {
      if (error instanceof PrerequisiteError || (error instanceof Error && error.message.startsWith(`${proc.name} exited`))) throw error;
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${proc.name} was not ready after ${timeoutMs / 1000} s (${lastError === undefined ? "probe false" : describeError(lastError)}); last lines of ${proc.logFile}:\n${logTail(proc.logFile)}`,
      );
    }
    await sleep(100);
  }
}

/** Asks the kernel for a free loopback port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === "object") resolve(address.port);
        else reject(new Error("no port"));
      });
    });
  });
}
