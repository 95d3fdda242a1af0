import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { exec } from "../exec.js";
import { startProcess, waitUntilReady, type ManagedProcess } from "../processes.js";
import { inNode, type NodeNetwork } from "./network.js";
import type { NodeTools } from "./prerequisites.js";

export interface Containerd {
  socket: string;
  process: ManagedProcess;
}

export interface ContainerdOptions {
  dir: string;
  network: NodeNetwork;
  tools: NodeTools;
  /** Image the CRI runs every Pod sandbox with (imported locally: there is no registry). */
  sandboxImage: string;
  keepAlive: boolean;
}

/** The CNI network of Pods: a bridge in the node's namespace, host-local addresses, portmap for hostPorts. */
function cniConfig(network: NodeNetwork, ipamDir: string): string {
  return JSON.stringify(
    {
      cniVersion: "0.4.0",
      name: "bulwark-node",
      plugins: [
        {
          type: "bridge",
          bridge: "cni0",
          isGateway: true,
          ipMasq: false,
          hairpinMode: true,
          ipam: { type: "host-local", ranges: [[{ subnet: network.podCidr }]], routes: [{ dst: "0.0.0.0/0" }], dataDir: ipamDir },
        },
        { type: "portmap", capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  );
}

function containerdConfig(options: ContainerdOptions, paths: { root: string; state: string; socket: string; cniConf: string }): string {
  const cri = `plugins."io.containerd.grpc.v1.cri"`;
  return [
    "version = 2",
    `root = "${paths.root}"`,
    `state = "${paths.state}"`,
    'disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp"]',
    "[grpc]",
    `  address = "${paths.socket}"`,
    "[debug]",
    '  level = "warn"',
    `[plugins."io.containerd.internal.v1.opt"]`,
    `  path = "${join(options.dir, "opt")}"`,
    `[${cri}]`,
    `  sandbox_image = "${options.sandboxImage}"`,
    '  stream_server_address = "127.0.0.1"',
    // Pod network namespaces under the node's state directory, not /run/netns: `env down` finds every one.
    "  netns_mounts_under_state_dir = true",
    "  enable_unprivileged_ports = true",
    // Where lowering OOM scores is not permitted (no CAP_SYS_RESOURCE), Pods keep at least containerd's own score.
    "  restrict_oom_score_adj = true",
    `[${cri}.containerd]`,
    '  snapshotter = "overlayfs"',
    '  default_runtime_name = "runc"',
    `[${cri}.containerd.runtimes.runc]`,
    '  runtime_type = "io.containerd.runc.v2"',
    `[${cri}.containerd.runtimes.runc.options]`,
    `  BinaryName = "${options.tools.runc}"`,
    `  Root = "${join(paths.state, "runc")}"`,
    "  SystemdCgroup = false",
    `[${cri}.cni]`,
    `  bin_dir = "${options.tools.cniBinDir}"`,
    `  conf_dir = "${paths.cniConf}"`,
    "  max_conf_num = 1",
    "",
  ].join("\n");
}

/** Starts containerd in the node's network namespace, with all its state under `dir`. */
export async function startContainerd(options: ContainerdOptions): Promise<Containerd> {
  const root = join(options.dir, "root");
  const state = join(options.dir, "state");
  const cniConf = join(options.dir, "cni");
  const socket = join(options.dir, "containerd.sock");
  for (const d of [root, state, cniConf]) await mkdir(d, { recursive: true });
  await writeFile(join(cniConf, "10-bulwark-node.conflist"), cniConfig(options.network, join(options.dir, "ipam")));
  const config = join(options.dir, "config.toml");
  await writeFile(config, containerdConfig(options, { root, state, socket, cniConf }));
  const { command, args } = inNode(options.network, options.tools.containerd, ["--config", config]);
  const proc = startProcess({ name: "containerd", command, args, logFile: join(options.dir, "containerd.log"), keepAlive: options.keepAlive });
  await waitUntilReady(proc, () => answers(options.tools.ctr, socket), 30_000);
  return { socket, process: proc };
}

async function answers(ctr: string, socket: string): Promise<boolean> {
  if (!existsSync(socket)) return false;
  try {
    await exec(ctr, ["--address", socket, "version"], { missingFix: "install containerd (apt-get install containerd)" });
    return true;
  } catch {
    return false;
  }
}

/** `ctr` in the CRI's namespace (k8s.io), where the kubelet sees images and containers. */
export async function ctr(tools: Pick<NodeTools, "ctr">, socket: string, args: readonly string[]): Promise<string> {
  return (await exec(tools.ctr, ["--address", socket, "--namespace", "k8s.io", ...args], { missingFix: "install containerd (apt-get install containerd)" })).stdout;
}

/** Imports an OCI archive (it names its image in full): the kubelet then runs it without pulling. */
export async function importImage(tools: Pick<NodeTools, "ctr">, socket: string, archive: string): Promise<void> {
  await ctr(tools, socket, ["images", "import", archive]);
}
