import { KubeConfig } from "@kubernetes/client-node";
import { existsSync } from "node:fs";
import { UsageError } from "./usage.js";

/** Where a pod finds its ServiceAccount token, which in-cluster configuration needs. */
const serviceAccountToken = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/**
 * The cluster a command talks to: the kubeconfig file of `--kubeconfig`, else of `$KUBECONFIG`,
 * else the in-cluster configuration of a pod. When none is there, one line says what was looked
 * for and how to provide it (rather than the client's "Invalid URL" later).
 */
export function loadClusterConfig(flagValue: unknown, env: NodeJS.ProcessEnv = process.env): KubeConfig {
  const kc = new KubeConfig();
  const fromFlag = typeof flagValue === "string" && flagValue !== "" ? flagValue : undefined;
  const path = fromFlag ?? (env.KUBECONFIG || undefined);
  if (path) {
    const source = fromFlag ? "--kubeconfig" : "KUBECONFIG";
    // KUBECONFIG may list several files, as kubectl reads it; the client reads the first.
    const first = path.split(":")[0] ?? path;
    if (!existsSync(first)) throw new UsageError(`no cluster configuration: the kubeconfig ${first} (from ${source}) does not exist`);
    kc.loadFromFile(first);
    if (!kc.getCurrentCluster()) throw new UsageError(`no cluster configuration: the kubeconfig ${first} (from ${source}) names no current cluster; set its current-context`);
    return kc;
  }
  if (!env.KUBERNETES_SERVICE_HOST || !env.KUBERNETES_SERVICE_PORT || !existsSync(serviceAccountToken)) {
    throw new UsageError(
      "no cluster configuration: --kubeconfig and KUBECONFIG are unset and this is not a pod (no KUBERNETES_SERVICE_HOST or ServiceAccount token); pass --kubeconfig PATH or set KUBECONFIG",
    );
  }
  kc.loadFromCluster();
  return kc;
}
