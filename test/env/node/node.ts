import { readdirSync, readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { exec } from "../exec.js";
import { killGroup, sleep, type ManagedProcess } from "../processes.js";
import type { StepReporter } from "../steps.js";
import { createCgroupRoot, removeCgroupRoot } from "./cgroups.js";
import { clusterDnsManifests } from "./cluster-dns.js";
import { ctr, importImage, startContainerd } from "./containerd.js";
import type { NodeImages } from "./images.js";
import { startKubeProxy } from "./kube-proxy.js";
import { startKubelet, type ComponentCredentials } from "./kubelet.js";
import { deleteNodeNetwork, type NodeNetwork } from "./network.js";
import type { NodeHost, NodeTools } from "./prerequisites.js";

/** What tests and `env down` need to know about a running node; plain data, serialisable. */
export interface NodeInfo {
  name: string;
  network: NodeNetwork;
  dir: string;
  containerdSocket: string;
  cgroupRoot: string;
  cgroupVersion: 1 | 2;
  /** Local images imported into the node, by role. */
  images: { pause: string; busybox: string; redis: string; coredns: string };
}

export interface StartNodeOptions {
  dir: string;
  host: NodeHost;
  network: NodeNetwork;
  images: NodeImages;
  binaries: { kubelet: string; kubeProxy: string };
  kubectl: string;
  kubeconfig: string;
  /** Client certificates of the kubelet and kube-proxy, and the API server they talk to. */
  kubelet: ComponentCredentials;
  kubeProxy: ComponentCredentials;
  steps: StepReporter;
  keepAlive: boolean;
}

export const nodeName = "bulwark-node";

async function kubectl(options: Pick<StartNodeOptions, "kubectl" | "kubeconfig">, args: readonly string[]): Promise<string> {
  return (await exec(options.kubectl, ["--kubeconfig", options.kubeconfig, ...args], { missingFix: "run `npm run env -- provision`" })).stdout;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, explain: () => Promise<string>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what} after ${timeoutMs / 1000} s: ${await explain().catch((e: unknown) => String(e))}`);
    await sleep(250);
  }
}

/**
 * Starts the node's containerd, imports the local images, starts the kubelet and kube-proxy in
 * the node's network namespace, waits until the Node is Ready, and deploys the cluster DNS.
 * `processes` are in start order; stop them in reverse, then call `cleanUpNode`.
 */
export function describeNode(options: Pick<StartNodeOptions, "dir" | "host" | "network" | "images">): NodeInfo {
  const { dir, host, network, images } = options;
  return {
    name: nodeName,
    network,
    dir,
    containerdSocket: join(dir, "containerd", "containerd.sock"),
    cgroupRoot: `/${network.netns}`,
    cgroupVersion: host.cgroupVersion,
    images: { pause: images.pause.name, busybox: images.busybox.name, redis: images.redis.name, coredns: images.coredns.name },
  };
}

export async function startNode(options: StartNodeOptions, processes: ManagedProcess[]): Promise<NodeInfo> {
  const { dir, host, network, images, steps, keepAlive } = options;
  const info = describeNode(options);
  const cgroupRoot = info.cgroupRoot;
  await writeFile(join(dir, "node.json"), JSON.stringify(info, null, 2));
  await createCgroupRoot(cgroupRoot, host.cgroupVersion);

  const containerd = await steps.step(`start containerd in network namespace ${network.netns}`, () =>
    startContainerd({ dir: join(dir, "containerd"), network, tools: host.tools, sandboxImage: images.pause.name, keepAlive }),
  );
  processes.push(containerd.process);
  await steps.step("import the node's images (pause, busybox, redis, coredns)", async () => {
    for (const image of Object.values(images) as { name: string; archive: string }[]) await importImage(host.tools, containerd.socket, image.archive);
  });

  const kubelet = await steps.step(`start kubelet (node ${nodeName}, ${network.nodeAddress}, Pods ${network.podCidr})`, () =>
    startKubelet({
      dir: join(dir, "kubelet"),
      binary: options.binaries.kubelet,
      nodeName,
      network,
      containerdSocket: containerd.socket,
      credentials: options.kubelet,
      cgroupVersion: host.cgroupVersion,
      cgroupRoot,
      keepAlive,
    }),
  );
  processes.push(kubelet);
  const kubeProxy = await steps.step(`start kube-proxy (iptables, Services ${network.serviceCidr})`, () =>
    startKubeProxy({ dir: join(dir, "kube-proxy"), binary: options.binaries.kubeProxy, nodeName, network, credentials: options.kubeProxy, keepAlive }),
  );
  processes.push(kubeProxy);

  await steps.step(`wait until node ${nodeName} is Ready`, () =>
    Promise.race([
      kubelet.exited,
      waitFor(
        `node ${nodeName} was not Ready`,
        async () => (await kubectl(options, ["get", "node", nodeName, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`])).trim() === "True",
        90_000,
        async () =>
          `${await kubectl(options, ["get", "node", nodeName, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].message}`])}; kubelet log ${join(dir, "kubelet", "kubelet.log")}`,
      ),
    ]),
  );

  await steps.step(`deploy the cluster DNS (CoreDNS, kube-dns ${network.dnsServiceIp})`, async () => {
    const manifests = join(dir, "cluster-dns.yaml");
    await writeFile(manifests, clusterDnsManifests({ image: images.coredns.name, serviceIp: network.dnsServiceIp }));
    await kubectl(options, ["apply", "-f", manifests]);
    await kubectl(options, ["rollout", "status", "-n", "kube-system", "deployment/coredns", "--timeout=90s"]);
  });
  return info;
}

/** Imports more OCI archives into a running node (the Bulwark and Envoy images). */
export async function importIntoNode(info: NodeInfo, tools: Pick<NodeTools, "ctr">, archives: readonly string[]): Promise<void> {
  for (const archive of archives) await importImage(tools, info.containerdSocket, archive);
}

/** Processes whose command line names `needle` (the node's shims and containers outlive containerd). */
function processesMentioning(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(needle)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Mount points under `dir`, deepest first. */
function mountsUnder(dir: string): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[4] ?? "")
    .filter((mountPoint) => mountPoint === dir || mountPoint.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

/**
 * Removes what the node leaves once its processes are stopped: containers and their shims, the
 * mounts under its directory (root filesystems, volumes, Pod network namespaces), its network
 * namespace with every interface and iptables rule in it, and its cgroups.
 */
export async function cleanUpNode(info: NodeInfo, tools: { ctr: string; runc: string }): Promise<void> {
  // containerd is stopped; its shims and the containers they run are killed directly.
  const shims = info.containerdSocket.startsWith("/") ? processesMentioning(` ${info.containerdSocket}`.trim()) : [];
  for (const pid of shims) killGroup(pid, "SIGKILL");
  const runcRoot = join(info.dir, "containerd", "state", "runc", "k8s.io");
  let containers: string[] = [];
  try {
    containers = readdirSync(runcRoot);
  } catch {
    containers = [];
  }
  for (const id of containers) {
    await exec(tools.runc, ["--root", join(info.dir, "containerd", "state", "runc", "k8s.io"), "delete", "--force", id], { missingFix: "" }).catch(() => undefined);
  }
  for (let attempt = 0; attempt < 3; attempt++) {
    const mounts = mountsUnder(info.dir);
    if (mounts.length === 0) break;
    for (const mountPoint of mounts) await exec("umount", ["-l", mountPoint], { missingFix: "install util-linux" }).catch(() => undefined);
    await sleep(100);
  }
  await deleteNodeNetwork(info.network);
  removeCgroupRoot(info.cgroupRoot, info.cgroupVersion);
}

/** The images in the node (for reports). */
export async function nodeImages(info: NodeInfo, tools: Pick<NodeTools, "ctr">): Promise<string> {
  return ctr(tools, info.containerdSocket, ["images", "ls", "-q"]);
}
