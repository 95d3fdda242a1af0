import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { stringify } from "yaml";
import { exec } from "../exec.js";
import { startProcess, waitUntilReady, type ManagedProcess } from "../processes.js";
import { componentKubeconfig, type ComponentCredentials } from "./kubelet.js";
import { inNode, type NodeNetwork } from "./network.js";

export interface KubeProxyOptions {
  dir: string;
  binary: string;
  nodeName: string;
  network: NodeNetwork;
  credentials: ComponentCredentials;
  keepAlive: boolean;
}

/** kube-proxy's /healthz inside the node's namespace (it is not reachable from the host). */
async function healthy(network: NodeNetwork): Promise<boolean> {
  const { command, args } = inNode(network, "busybox", ["wget", "-q", "-O-", "http://127.0.0.1:10256/healthz"]);
  try {
    await exec(command, args, { missingFix: "install busybox-static" });
    return true;
  } catch {
    return false;
  }
}

/** Starts kube-proxy in iptables mode in the node's namespace: ClusterIPs reach Pods from Pods and from the host. */
export async function startKubeProxy(options: KubeProxyOptions): Promise<ManagedProcess> {
  await mkdir(options.dir, { recursive: true });
  const kubeconfig = await componentKubeconfig(join(options.dir, "kubeconfig"), "system:kube-proxy", options.credentials);
  const config = join(options.dir, "config.yaml");
  await writeFile(
    config,
    stringify({
      apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
      kind: "KubeProxyConfiguration",
      mode: "iptables",
      clientConnection: { kubeconfig },
      hostnameOverride: options.nodeName,
      clusterCIDR: options.network.podCidr,
      bindAddress: options.network.nodeAddress,
      healthzBindAddress: "127.0.0.1:10256",
      metricsBindAddress: "127.0.0.1:10249",
      // In a network namespace the conntrack table sizes are the host's: leave them alone.
      conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: "0s", tcpCloseWaitTimeout: "0s" },
      iptables: { localhostNodePorts: false, syncPeriod: "30s", minSyncPeriod: "0s" },
      nodePortAddresses: [`${options.network.nodeAddress}/32`],
    }),
  );
  const { command, args } = inNode(options.network, options.binary, [`--config=${config}`, "--v=0"]);
  const proc = startProcess({ name: "kube-proxy", command, args, logFile: join(options.dir, "kube-proxy.log"), keepAlive: options.keepAlive });
  await waitUntilReady(proc, () => healthy(options.network), 60_000);
  return proc;
}
