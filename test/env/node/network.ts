import { existsSync } from "node:fs";
import { exec } from "../exec.js";
import { PrerequisiteError } from "../errors.js";

/**
 * The node's own network: a network namespace joined to the host by a veth pair. The node's
 * containerd, kubelet and kube-proxy run in it, so kube-proxy's iptables rules, the CNI bridge and
 * every Pod interface live there and disappear with it, and two nodes on one host never meet.
 * The host routes the Pod and Service ranges to the node, so the API server reaches webhooks and
 * kubelets, and the host reaches ClusterIPs through kube-proxy.
 */
export interface NodeNetwork {
  /** 0–63: picks this node's addresses, so nodes of different clusters on one host do not collide. */
  index: number;
  netns: string;
  hostInterface: string;
  /** The host's end of the veth: the API server binds it, Pods reach the API server on it. */
  hostAddress: string;
  /** The node's InternalIP. */
  nodeAddress: string;
  podCidr: string;
  serviceCidr: string;
  kubernetesServiceIp: string;
  dnsServiceIp: string;
}

const ipFix = "install iproute2 (apt-get install iproute2)";
const maxNodes = 64;

async function ip(args: readonly string[]): Promise<string> {
  return (await exec("ip", args, { missingFix: ipFix })).stdout;
}

/** Runs a command inside the node's network namespace (and only that namespace: mounts stay shared with the host). */
export function inNode(network: Pick<NodeNetwork, "netns">, command: string, args: readonly string[]): { command: string; args: string[] } {
  return { command: "nsenter", args: [`--net=/run/netns/${network.netns}`, "--", command, ...args] };
}

export function networkFor(index: number): NodeNetwork {
  return {
    index,
    netns: `bulwark-node-${index}`,
    hostInterface: `bwnode${index}`,
    hostAddress: `10.250.${index}.1`,
    nodeAddress: `10.250.${index}.2`,
    podCidr: `10.244.${index}.0/24`,
    serviceCidr: `10.96.${index}.0/24`,
    kubernetesServiceIp: `10.96.${index}.1`,
    dnsServiceIp: `10.96.${index}.10`,
  };
}

async function sysctlInNode(network: NodeNetwork, key: string, value: string): Promise<void> {
  const { command, args } = inNode(network, "sh", ["-c", `echo ${value} > /proc/sys/${key.replaceAll(".", "/")}`]);
  await exec(command, args, { missingFix: "install util-linux (nsenter)" });
}

/**
 * Creates the namespace, the veth pair and the routes. The first free index wins: `ip netns add`
 * fails when the name exists, which makes it the lock between concurrent runs.
 */
export async function createNodeNetwork(): Promise<NodeNetwork> {
  for (let index = 0; index < maxNodes; index++) {
    const network = networkFor(index);
    if (existsSync(`/run/netns/${network.netns}`)) continue;
    try {
      await ip(["netns", "add", network.netns]);
    } catch (error) {
      if (error instanceof PrerequisiteError) throw error;
      if (existsSync(`/run/netns/${network.netns}`)) continue;
      throw new PrerequisiteError(
        `cannot create a network namespace (${error instanceof Error ? (error.message.split("\n").pop() ?? "") : String(error)})`,
        "run as root (CAP_SYS_ADMIN and CAP_NET_ADMIN)",
      );
    }
    try {
      await configure(network);
      return network;
    } catch (error) {
      await deleteNodeNetwork(network);
      throw error;
    }
  }
  throw new PrerequisiteError(
    `all ${maxNodes} node network namespaces (bulwark-node-N) are taken`,
    "run `npm run env -- down`, or delete stale ones with `ip netns delete bulwark-node-N`",
  );
}

async function configure(network: NodeNetwork): Promise<void> {
  const peer = `${network.hostInterface}p`;
  await ip(["link", "add", network.hostInterface, "type", "veth", "peer", "name", peer]);
  await ip(["link", "set", peer, "netns", network.netns]);
  await ip(["-n", network.netns, "link", "set", peer, "name", "eth0"]);
  await ip(["addr", "add", `${network.hostAddress}/24`, "dev", network.hostInterface]);
  await ip(["link", "set", network.hostInterface, "up"]);
  await ip(["-n", network.netns, "addr", "add", `${network.nodeAddress}/24`, "dev", "eth0"]);
  await ip(["-n", network.netns, "link", "set", "eth0", "up"]);
  await ip(["-n", network.netns, "link", "set", "lo", "up"]);
  await ip(["-n", network.netns, "route", "add", "default", "via", network.hostAddress]);
  // The API server's webhook calls and the host's requests to Pods and ClusterIPs go to the node.
  await ip(["route", "add", network.podCidr, "via", network.nodeAddress, "dev", network.hostInterface]);
  await ip(["route", "add", network.serviceCidr, "via", network.nodeAddress, "dev", network.hostInterface]);
  await sysctlInNode(network, "net.ipv4.ip_forward", "1");
  // Traffic between Pods on the CNI bridge passes through iptables, so ClusterIPs work Pod to Pod.
  await sysctlInNode(network, "net.bridge.bridge-nf-call-iptables", "1");
}

/** Deletes the namespace: its veth pair (and so the host's routes), the CNI bridge, Pod interfaces and iptables rules go with it. */
export async function deleteNodeNetwork(network: Pick<NodeNetwork, "netns" | "hostInterface">): Promise<void> {
  await ip(["link", "delete", network.hostInterface]).catch(() => undefined);
  await ip(["netns", "delete", network.netns]).catch(() => undefined);
}
