import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { startEnvironment, type EnvironmentInfo, type RunningEnvironment } from "./environment.js";
import { PrerequisiteError } from "./errors.js";
import { consoleSteps } from "./steps.js";

declare module "vitest" {
  export interface ProvidedContext {
    env: EnvironmentInfo;
  }
}

/**
 * The one environment of a run, shared by the integration projects (vitest runs each project's
 * global setup, each through its own module graph, in the same process; the environment is kept
 * on globalThis so the second project reuses what the first started). Stopped when the last
 * project that uses it tears down.
 */
interface SharedEnvironment {
  started: Promise<RunningEnvironment>;
  users: number;
}
const holder = globalThis as typeof globalThis & { bulwarkIntegrationEnvironment?: SharedEnvironment };

async function start(): Promise<RunningEnvironment> {
  const dir = await mkdtemp(join(tmpdir(), "bulwark-it-"));
  try {
    return await startEnvironment({ dir, steps: consoleSteps("integration env"), keepAlive: false });
  } catch (error) {
    if (error instanceof PrerequisiteError) throw new Error(error.oneLine());
    throw error;
  }
}

/**
 * Starts one environment for the integration projects (a fresh local cluster and Redis, or the
 * cluster named by KUBECONFIG) and stops it when the run ends.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const shared = (holder.bulwarkIntegrationEnvironment ??= { started: start(), users: 0 });
  shared.users += 1;
  const env = await shared.started;
  project.provide("env", env.info);
  return async () => {
    shared.users -= 1;
    if (shared.users > 0) return;
    holder.bulwarkIntegrationEnvironment = undefined;
    await env.stop();
  };
}
