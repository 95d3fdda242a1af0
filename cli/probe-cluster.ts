import type { KubeConfig } from "@kubernetes/client-node";
import { setTimeout as sleep } from "node:timers/promises";
import { componentLogger } from "./logger.js";
import { ObjectStore } from "../operator/kube/object-store.js";
import type { TranslationInput } from "../operator/resolve/objects.js";

/**
 * The objects `bulwark probe` reads from a cluster: policies, Services and Pods, listed once by the
 * same store the controller watches with (no Secrets: the probe needs no JWKS, so its account
 * needs no access to them).
 */
export async function readClusterInput(kc: KubeConfig, timeoutMs = 30_000): Promise<Omit<TranslationInput, "now">> {
  const store = new ObjectStore(kc, () => undefined, componentLogger("probe", "warn"), { kinds: ["policies", "services", "pods"] });
  try {
    await store.start();
    const deadline = Date.now() + timeoutMs;
    while (!store.isSynced()) {
      if (Date.now() > deadline) throw new Error(`could not list APISecurityPolicies, Services and Pods from the cluster within ${timeoutMs / 1000} s`);
      await sleep(100);
    }
    const { now: _now, ...input } = store.translationInput(new Date().toISOString());
    return input;
  } finally {
    await store.stop();
  }
}
