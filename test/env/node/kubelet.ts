import { readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { stringify } from "yaml";
import { startProcess, type ManagedProcess } from "../processes.js";
import { inNode, type NodeNetwork } from "./network.js";

export interface ComponentCredentials {
  apiServerUrl: string;
  caCert: string;
  clientCert: string;
  clientKey: string;
}

/** A kubeconfig for one of the node's components, with its own client certificate. */
export async function componentKubeconfig(path: string, user: string, credentials: ComponentCredentials): Promise<string> {
  const b64 = (file: string): string => readFileSync(file).toString("base64");
  await writeFile(
    path,
    stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "local", cluster: { server: credentials.apiServerUrl, "certificate-authority-data": b64(credentials.caCert) } }],
      users: [{ name: user, user: { "client-certificate-data": b64(credentials.clientCert), "client-key-data": b64(credentials.clientKey) } }],
      contexts: [{ name: "local", context: { cluster: "local", user } }],
      "current-context": "local",
    }),
    { mode: 0o600 },
  );
  return path;
}

export interface KubeletOptions {
  dir: string;
  binary: string;
  nodeName: string;
  network: NodeNetwork;
  containerdSocket: string;
  credentials: ComponentCredentials;
  cgroupVersion: 1 | 2;
  /** The cgroup every Pod of this node lives under, so nodes of different clusters do not share one. */
  cgroupRoot: string;
  keepAlive: boolean;
}

function kubeletConfig(options: KubeletOptions, paths: { resolvConf: string; podLogs: string }): Record<string, unknown> {
  return {
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    // Kubernetes 1.35+ refuses cgroup v1 hosts unless told otherwise.
    ...(options.cgroupVersion === 1 ? { failCgroupV1: false } : {}),
    cgroupDriver: "cgroupfs",
    cgroupRoot: options.cgroupRoot,
    containerRuntimeEndpoint: `unix://${options.containerdSocket}`,
    address: options.network.nodeAddress,
    port: 10250,
    readOnlyPort: 0,
    healthzBindAddress: "127.0.0.1",
    healthzPort: 10248,
    // The API server calls the kubelet (logs, exec) with its client certificate, signed by the cluster CA.
    authentication: { anonymous: { enabled: false }, webhook: { enabled: false }, x509: { clientCAFile: options.credentials.caCert } },
    authorization: { mode: "AlwaysAllow" },
    clusterDNS: [options.network.dnsServiceIp],
    clusterDomain: "cluster.local",
    // Pods get only the cluster DNS: nothing leaves this machine.
    resolvConf: paths.resolvConf,
    podLogsDir: paths.podLogs,
    failSwapOn: false,
    serializeImagePulls: false,
    // A shared test machine: disk and memory pressure here is not the node's to act on.
    evictionHard: { "memory.available": "50Mi", "nodefs.available": "1%", "imagefs.available": "1%", "nodefs.inodesFree": "1%" },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    // Pods' changes reach the API server quickly (probes, readiness), as the suite waits on them.
    nodeStatusUpdateFrequency: "4s",
    syncFrequency: "10s",
    fileCheckFrequency: "10s",
    maxPods: 110,
    podPidsLimit: 4096,
    protectKernelDefaults: false,
    makeIPTablesUtilChains: false,
    localStorageCapacityIsolation: false,
    shutdownGracePeriod: "0s",
  };
}

/** Starts the kubelet in the node's network namespace; it registers the Node itself. */
export async function startKubelet(options: KubeletOptions): Promise<ManagedProcess> {
  const root = join(options.dir, "root");
  const podLogs = join(options.dir, "pod-logs");
  await mkdir(root, { recursive: true });
  await mkdir(podLogs, { recursive: true });
  const resolvConf = join(options.dir, "resolv.conf");
  await writeFile(resolvConf, "");
  const config = join(options.dir, "config.yaml");
  await writeFile(config, stringify(kubeletConfig(options, { resolvConf, podLogs })));
  const kubeconfig = await componentKubeconfig(join(options.dir, "kubeconfig"), `system:node:${options.nodeName}`, options.credentials);
  const { command, args } = inNode(options.network, options.binary, [
    `--config=${config}`,
    `--kubeconfig=${kubeconfig}`,
    `--root-dir=${root}`,
    `--cert-dir=${join(options.dir, "pki")}`,
    `--hostname-override=${options.nodeName}`,
    `--node-ip=${options.network.nodeAddress}`,
    "--v=0",
  ]);
  return startProcess({ name: "kubelet", command, args, logFile: join(options.dir, "kubelet.log"), keepAlive: options.keepAlive });
}
