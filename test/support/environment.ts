import { KubeConfig } from "@kubernetes/client-node";
import { inject } from "vitest";
import type { EnvironmentInfo } from "../env/environment.js";
import { describeError } from "../env/errors.js";

/** The environment the integration project's global setup started. */
export function testEnvironment(): EnvironmentInfo {
  return inject("env");
}

export function adminKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(testEnvironment().kubeconfig);
  return kc;
}

/** A namespace name unique to this test run, valid as a DNS label. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}`;
}

export async function eventually<T>(probe: () => Promise<T | undefined>, options: { timeoutMs?: number; what: string }): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${options.what}${lastError === undefined ? "" : `: ${describeError(lastError)}`}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
