/**
 * A network namespace standing in for a pod, joined to this host by a veth pair: the host end
 * plays the node and every other pod, the namespace end is the pod's eth0. Needs root, `ip`
 * (iproute2) and the iptables binaries; `netnsUnavailable()` says in one line why not.
 */
import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";

const exec = promisify(execFile);

export interface PodNetwork {
  name: string;
  /** The pod's addresses, as the node reaches them. */
  ipv4: string;
  ipv6: string;
  /** Runs `command` inside the namespace (optionally as `uid`); resolves with exit code and output. */
  run(command: string[], options?: { uid?: number; input?: string; env?: NodeJS.ProcessEnv }): Promise<{ code: number; stdout: string; stderr: string }>;
  /** The argv prefix that runs a command inside the namespace as `uid` (for long-running processes). */
  prefix(uid?: number): string[];
  remove(): Promise<void>;
}

function has(command: string, args: string[]): boolean {
  try {
    execFileSync(command, args, { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Why network namespaces with iptables cannot be used here (one line), or undefined when they can. */
export function netnsUnavailable(): string | undefined {
  if (process.platform !== "linux") return "network namespaces need Linux";
  if (process.getuid?.() !== 0) return "creating network namespaces needs root";
  if (!has("ip", ["-V"])) return "`ip` (iproute2) is missing: apt-get install iproute2";
  if (!has("iptables-restore", ["--version"]) || !has("ip6tables-restore", ["--version"])) return "iptables is missing: apt-get install iptables";
  if (!has("setpriv", ["--version"])) return "setpriv (util-linux) is missing";
  if (!has("curl", ["--version"])) return "curl is missing: apt-get install curl";
  const probe = `bwprobe${process.pid}`;
  if (!has("ip", ["netns", "add", probe])) return "this kernel or container does not allow `ip netns add`";
  has("ip", ["netns", "del", probe]);
  return undefined;
}

/**
 * Creates namespace `bw<tag>` with `lo` up and a veth pair: host end 10.254.<n>.1/24 and
 * fd00:b1:<n>::1/64, namespace end .2 and ::2, default routes through the host end.
 */
export async function createPodNetwork(tag: number): Promise<PodNetwork> {
  const n = tag % 250;
  const name = `bw${tag}`;
  const host = `bwh${tag}`.slice(0, 15);
  const pod = `bwp${tag}`.slice(0, 15);
  const ipv4 = `10.254.${n}.2`;
  const ipv6 = `fd00:b1:${n.toString(16)}::2`;
  const ip = (...args: string[]): Promise<unknown> => exec("ip", args);
  await ip("netns", "add", name);
  try {
    await ip("link", "add", host, "type", "veth", "peer", "name", pod);
    await ip("link", "set", pod, "netns", name);
    await ip("addr", "add", `10.254.${n}.1/24`, "dev", host);
    await ip("-6", "addr", "add", `fd00:b1:${n.toString(16)}::1/64`, "dev", host, "nodad");
    await ip("link", "set", host, "up");
    const inside = (...args: string[]): Promise<unknown> => exec("ip", ["netns", "exec", name, "ip", ...args]);
    await inside("link", "set", "lo", "up");
    await inside("addr", "add", `${ipv4}/24`, "dev", pod);
    await inside("-6", "addr", "add", `${ipv6}/64`, "dev", pod, "nodad");
    await inside("link", "set", pod, "up");
    await inside("route", "add", "default", "via", `10.254.${n}.1`);
  } catch (error) {
    await exec("ip", ["link", "del", host]).catch(() => undefined);
    await exec("ip", ["netns", "del", name]).catch(() => undefined);
    throw error;
  }
  const prefix = (uid?: number): string[] => ["ip", "netns", "exec", name, ...(uid === undefined ? [] : ["setpriv", `--reuid=${uid}`, `--regid=${uid}`, "--clear-groups"])];
  return {
    name,
    ipv4,
    ipv6,
    prefix,
    run: (command, options = {}) =>
      new Promise((resolve) => {
        const [cmd, ...args] = [...prefix(options.uid), ...command];
        const child = execFile(cmd ?? "ip", args, { env: options.env ?? process.env, timeout: 60_000 }, (error, stdout, stderr) => {
          const code = error ? (typeof (error as { code?: unknown }).code === "number" ? (error as { code: number }).code : 1) : 0;
          resolve({ code, stdout, stderr });
        });
        if (options.input !== undefined) child.stdin?.end(options.input);
      }),
    async remove(): Promise<void> {
      await exec("ip", ["link", "del", host]).catch(() => undefined);
      await exec("ip", ["netns", "del", name]).catch(() => undefined);
    },
  };
}
