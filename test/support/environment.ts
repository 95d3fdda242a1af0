import { KubeConfig } from "@kubernetes/client-node";
import { inject } from "vitest";
import type { EnvironmentInfo } from "../env/environment.js";

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
