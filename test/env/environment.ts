import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { startLocalCluster } from "./cluster.js";
import { provisionEnvoy } from "./provision/envoy-binary.js";
import { provisionKubeBinaries } from "./provision/kube-binaries.js";
import { provisionKubectlAndHelm } from "./provision/kubectl-helm.js";
import { provisionRedis } from "./provision/redis-binary.js";
import { startRedis } from "./redis.js";
import type { ManagedProcess } from "./processes.js";
import type { StepReporter } from "./steps.js";

/** What a test suite or a person needs to talk to the environment; plain data, serialisable. */
export interface EnvironmentInfo {
  kubeconfig: string;
  /** True when KUBECONFIG named an existing cluster instead of the local one. */
  externalCluster: boolean;
  redisUrl: string;
  binaries: { envoy: string; kubectl: string; helm: string; redisServer: string };
  /** Directory for logs and state of this environment instance. */
  dir: string;
}

export interface RunningEnvironment {
  info: EnvironmentInfo;
  processes: ManagedProcess[];
  stop(): Promise<void>;
}

export interface BinaryPaths {
  envoy: string;
  kubectl: string;
  helm: string;
  redisServer: string;
}

/** Provisions every binary the environment needs (cached; built only on first use). */
export async function provisionBinaries(steps: StepReporter, needKube: boolean): Promise<{ binaries: BinaryPaths; kube?: Awaited<ReturnType<typeof provisionKubeBinaries>> }> {
  const [envoy, tools, redis, kube] = await Promise.all([
    steps.step("provision envoy", provisionEnvoy),
    steps.step("provision kubectl and helm", provisionKubectlAndHelm),
    steps.step("provision redis-server", provisionRedis),
    needKube ? steps.step("provision kube-apiserver, kube-controller-manager, etcd", provisionKubeBinaries) : Promise.resolve(undefined),
  ]);
  return {
    binaries: { envoy: envoy.envoy, kubectl: tools.kubectl, helm: tools.helm, redisServer: redis.redisServer },
    ...(kube ? { kube } : {}),
  };
}

export interface StartEnvironmentOptions {
  dir: string;
  steps: StepReporter;
  /** Processes survive this Node.js process (for `npm run env -- up`). */
  keepAlive: boolean;
  /** An existing cluster to use instead of starting one; defaults to $KUBECONFIG. */
  kubeconfig?: string | undefined;
}

/** Provisions and starts the environment: a local cluster (unless one is given) and Redis. */
export async function startEnvironment(options: StartEnvironmentOptions): Promise<RunningEnvironment> {
  const { dir, steps, keepAlive } = options;
  const external = options.kubeconfig ?? process.env.KUBECONFIG;
  await mkdir(dir, { recursive: true });
  const { binaries, kube } = await provisionBinaries(steps, !external);
  const processes: ManagedProcess[] = [];
  const stop = async (): Promise<void> => {
    for (const proc of processes.splice(0).reverse()) await proc.stop();
  };
  try {
    const redis = await steps.step("start redis-server", () => startRedis({ dir, redisServer: binaries.redisServer, keepAlive }));
    processes.push(redis.process);
    let kubeconfig = external;
    if (!kubeconfig) {
      if (!kube) throw new Error("kube binaries were not provisioned");
      const cluster = await startLocalCluster({ dir: join(dir, "cluster"), binaries: kube, steps, keepAlive });
      processes.push(...cluster.processes);
      kubeconfig = cluster.kubeconfig;
    }
    return {
      info: { kubeconfig, externalCluster: Boolean(external), redisUrl: redis.url, binaries, dir },
      processes,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
