import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { startEnvironment, type EnvironmentInfo } from "./environment.js";
import { PrerequisiteError } from "./errors.js";
import { consoleSteps } from "./steps.js";

declare module "vitest" {
  export interface ProvidedContext {
    env: EnvironmentInfo;
  }
}

/**
 * Starts one environment for the integration project (a fresh local cluster and Redis, or
 * the cluster named by KUBECONFIG) and stops it when the run ends.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = await mkdtemp(join(tmpdir(), "bulwark-it-"));
  try {
    const env = await startEnvironment({ dir, steps: consoleSteps("integration env"), keepAlive: false });
    project.provide("env", env.info);
    return () => env.stop();
  } catch (error) {
    if (error instanceof PrerequisiteError) throw new Error(error.oneLine());
    throw error;
  }
}
