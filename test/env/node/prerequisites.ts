import { existsSync, readFileSync } from "node:fs";
import { exec } from "../exec.js";
import { PrerequisiteError } from "../errors.js";

/** Debian's packages the node runs on. */
export interface NodeTools {
  containerd: string;
  ctr: string;
  runc: string;
  cniBinDir: string;
  iptables: string;
}

/** Debian packages that provide the node's tools; `.ci/run` installs them on a fresh machine. */
export const nodePackages = ["containerd", "runc", "containernetworking-plugins", "iptables", "conntrack", "busybox-static", "umoci"] as const;

const tools: NodeTools = {
  containerd: "/usr/bin/containerd",
  ctr: "/usr/bin/ctr",
  runc: "/usr/sbin/runc",
  cniBinDir: "/usr/lib/cni",
  iptables: "/usr/sbin/iptables",
};

const installFix = `install them with \`apt-get install ${nodePackages.join(" ")}\``;

/** The cgroup v1 controllers the kubelet and runc need, or "unified" when the host runs cgroup v2. */
function cgroupLayout(): { version: 1 | 2; missing: string[] } {
  const mounts = readFileSync("/proc/self/mountinfo", "utf8");
  const v2Root = / \/sys\/fs\/cgroup [^\n]* - cgroup2 /.test(mounts);
  const enabled = new Set(
    readFileSync("/proc/cgroups", "utf8")
      .split("\n")
      .slice(1)
      .map((line) => line.split("\t"))
      .filter((cols) => cols[3] === "1")
      .map((cols) => cols[0] ?? ""),
  );
  const missing = ["cpu", "cpuacct", "cpuset", "memory", "pids", "devices", "freezer"].filter(
    (c) => !(v2Root && c === "devices") && !(v2Root && c === "cpuacct") && !(v2Root && c === "freezer") && !enabled.has(c),
  );
  return { version: v2Root ? 2 : 1, missing };
}

export interface NodeHost {
  tools: NodeTools;
  cgroupVersion: 1 | 2;
}

/**
 * Checks what a node needs from this host; the first thing missing is a PrerequisiteError whose
 * one line says what and how to fix it.
 */
export async function checkNodeHost(): Promise<NodeHost> {
  if (process.platform !== "linux") throw new PrerequisiteError("a node needs Linux", "run the node suite on a Linux host or set KUBECONFIG to a cluster with nodes");
  if (process.getuid?.() !== 0) throw new PrerequisiteError("a node needs root (network namespaces, mounts, cgroups)", "run as root, or set KUBECONFIG to a cluster with nodes");
  const missingTools = (Object.entries(tools) as [string, string][]).filter(([, path]) => !existsSync(path)).map(([name, path]) => `${name} (${path})`);
  for (const plugin of ["bridge", "host-local", "loopback", "portmap"]) {
    if (!existsSync(`${tools.cniBinDir}/${plugin}`)) missingTools.push(`CNI plugin ${plugin}`);
  }
  if (missingTools.length > 0) throw new PrerequisiteError(`the node's tools are missing: ${missingTools.join(", ")}`, installFix);
  if (!readFileSync("/proc/filesystems", "utf8").includes("\toverlay\n")) {
    throw new PrerequisiteError("overlayfs is unavailable (no overlay in /proc/filesystems)", "load it with `modprobe overlay` or use a kernel with CONFIG_OVERLAY_FS");
  }
  const cgroups = cgroupLayout();
  if (cgroups.missing.length > 0) {
    throw new PrerequisiteError(
      `cgroup controllers missing: ${cgroups.missing.join(", ")}`,
      "enable them (mount the cgroup v1 hierarchies, or boot with cgroup v2 and delegate them)",
    );
  }
  if (!existsSync("/proc/sys/net/bridge/bridge-nf-call-iptables")) {
    throw new PrerequisiteError("bridge netfilter is unavailable (no /proc/sys/net/bridge)", "load it with `modprobe br_netfilter`");
  }
  await exec(tools.iptables, ["-w", "-t", "nat", "-L", "-n"], { missingFix: installFix }).catch((error: unknown) => {
    if (error instanceof PrerequisiteError) throw error;
    throw new PrerequisiteError("iptables cannot read the nat table", "load the nat modules (`modprobe iptable_nat`) or install iptables");
  });
  return { tools, cgroupVersion: cgroups.version };
}
