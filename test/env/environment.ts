import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { startLocalCluster } from "./cluster.js";
import { provisionEnvoy } from "./provision/envoy-binary.js";
import { provisionKubeBinaries } from "./provision/kube-binaries.js";
import { provisionKubectlAndHelm } from "./provision/kubectl-helm.js";
import { provisionRedis } from "./provision/redis-binary.js";
import { provisionPrometheus } from "./provision/prometheus-binary.js";
import { startRedis } from "./redis.js";
import type { ManagedProcess } from "./processes.js";
import type { StepReporter } from "./steps.js";
import { provisionCoreDns } from "./provision/coredns-binary.js";
import { provisionNodeImages } from "./node/images.js";
import { createNodeNetwork, deleteNodeNetwork } from "./node/network.js";
import { cleanUpNode, describeNode, nodeName, startNode, type NodeInfo } from "./node/node.js";
import { checkNodeHost } from "./node/prerequisites.js";

/** What a test suite or a person needs to talk to the environment; plain data, serialisable. */
export interface EnvironmentInfo {
  kubeconfig: string;
  /** True when KUBECONFIG named an existing cluster instead of the local one. */
  externalCluster: boolean;
  redisUrl: string;
  binaries: { envoy: string; kubectl: string; helm: string; redisServer: string; promtool: string; prometheus: string };
  /** Directory for logs and state of this environment instance. */
  dir: string;
  /** The real node (containerd, kubelet, kube-proxy, cluster DNS) when one was asked for. */
  node?: NodeInfo;
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
  promtool: string;
  prometheus: string;
}

/** Provisions every binary the environment needs (cached; built only on first use). */
export async function provisionBinaries(steps: StepReporter, needKube: boolean): Promise<{ binaries: BinaryPaths; kube?: Awaited<ReturnType<typeof provisionKubeBinaries>> }> {
  const [envoy, tools, redis, prometheus, kube] = await Promise.all([
    steps.step("provision envoy", provisionEnvoy),
    steps.step("provision kubectl and helm", provisionKubectlAndHelm),
    steps.step("provision redis-server", provisionRedis),
    steps.step("provision promtool and prometheus", provisionPrometheus),
    needKube ? steps.step("provision kube-apiserver, kube-controller-manager, etcd", () => provisionKubeBinaries((message) => steps.note(message))) : Promise.resolve(undefined),
  ]);
  return {
    binaries: { envoy: envoy.envoy, kubectl: tools.kubectl, helm: tools.helm, redisServer: redis.redisServer, promtool: prometheus.promtool, prometheus: prometheus.prometheus },
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
  /** Add a real node to the local cluster (a cluster named by KUBECONFIG brings its own nodes). */
  node?: boolean;
}

/** Provisions and starts the environment: a local cluster (unless one is given), Redis, and a real node when asked. */
export async function startEnvironment(options: StartEnvironmentOptions): Promise<RunningEnvironment> {
  const { dir, steps, keepAlive } = options;
  const external = options.kubeconfig ?? process.env.KUBECONFIG;
  const wantNode = options.node === true && !external;
  // A host that cannot run a node says so before anything is built or started.
  const host = wantNode ? await steps.step("check the host can run a node", checkNodeHost) : undefined;
  await mkdir(dir, { recursive: true });
  const [{ binaries, kube }, coredns] = await Promise.all([
    provisionBinaries(steps, !external),
    wantNode ? steps.step("provision coredns", provisionCoreDns) : Promise.resolve(undefined),
  ]);
  const images = coredns
    ? await steps.step("provision the node's images (pause, busybox, redis, coredns)", () => provisionNodeImages({ coredns: coredns.coredns, redisServer: binaries.redisServer }))
    : undefined;
  const processes: ManagedProcess[] = [];
  let node: NodeInfo | undefined;
  let network: Awaited<ReturnType<typeof createNodeNetwork>> | undefined;
  const stop = async (): Promise<void> => {
    for (const proc of processes.splice(0).reverse()) await proc.stop();
    if (host && node) await cleanUpNode(node, host.tools);
    else if (network) await deleteNodeNetwork(network);
  };
  try {
    const redis = await steps.step("start redis-server", () => startRedis({ dir, redisServer: binaries.redisServer, keepAlive }));
    processes.push(redis.process);
    let kubeconfig = external;
    if (!kubeconfig) {
      if (!kube) throw new Error("kube binaries were not provisioned");
      if (wantNode) network = await steps.step("create the node's network namespace", createNodeNetwork);
      const nodeFacing = network ? { address: network.hostAddress, serviceCidr: network.serviceCidr, kubernetesServiceIp: network.kubernetesServiceIp, nodeName } : undefined;
      const cluster = await startLocalCluster({ dir: join(dir, "cluster"), binaries: kube, steps, keepAlive, nodeFacing });
      processes.push(...cluster.processes);
      kubeconfig = cluster.kubeconfig;
      if (host && network && images) {
        const nodeDir = join(dir, "node");
        await mkdir(nodeDir, { recursive: true });
        const credentials = (cert: string, key: string): { apiServerUrl: string; caCert: string; clientCert: string; clientKey: string } => ({
          apiServerUrl: cluster.apiServerUrl,
          caCert: cluster.pki.caCert,
          clientCert: join(cluster.pkiDir, cert),
          clientKey: join(cluster.pkiDir, key),
        });
        node = describeNode({ dir: nodeDir, host, network, images });
        node = await startNode(
          {
            dir: nodeDir,
            host,
            network,
            images,
            binaries: { kubelet: kube.kubelet, kubeProxy: kube.kubeProxy },
            kubectl: binaries.kubectl,
            kubeconfig,
            kubelet: credentials("kubelet.crt", "kubelet.key"),
            kubeProxy: credentials("kube-proxy.crt", "kube-proxy.key"),
            steps,
            keepAlive,
          },
          processes,
        );
      }
    }
    return {
      info: { kubeconfig, externalCluster: Boolean(external), redisUrl: redis.url, binaries, dir, ...(node ? { node } : {}) },
      processes,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
