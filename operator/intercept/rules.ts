/**
 * Inbound interception, pure: the netfilter rules (in `iptables-restore` form) that make a pod's
 * app port reachable only through its sidecar. Run once per pod, before any other container,
 * by `bulwark intercept` in the injected init container.
 *
 * - From outside the pod (nat PREROUTING): every TCP connection to an app port is redirected to
 *   the sidecar's inbound port, whatever address it was sent to. The client keeps its address
 *   (only the destination changes), so the sidecar judges the real TCP peer.
 * - From inside the pod to its own pod address (nat OUTPUT): redirected the same way, so the
 *   pod's address means "through the sidecar" for every caller.
 * - Loopback (127.0.0.0/8, ::1) is not redirected: it is how the sidecar reaches the app
 *   (127.0.0.1:<app port>), and containers of one pod share it.
 * - The sidecar's own connections (its user id) are never redirected, so it cannot loop into
 *   itself whatever address it uses.
 *
 * The same rules are written for IPv4 and IPv6 (REDIRECT maps to the address the packet came
 * in on, or to loopback for local callers), so a dual-stack pod's app port is closed on both.
 */

export type Family = "ipv4" | "ipv6";

export interface InterceptionOptions {
  /** The app ports whose inbound TCP goes to the sidecar. */
  appPorts: readonly number[];
  /** The sidecar's inbound listener port. */
  sidecarPort: number;
  /** The sidecar's user id: its connections are never redirected. */
  proxyUid: number;
}

/** Bulwark's chains in the nat table: inbound from the network, and from the pod itself. */
export const Chains = { inbound: "BULWARK_INBOUND", local: "BULWARK_LOCAL" } as const;

const LOOPBACK: Record<Family, string> = { ipv4: "127.0.0.0/8", ipv6: "::1/128" };

function isPort(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= 65535;
}

/** What is wrong with `options`, or undefined when they can be programmed. */
export function interceptionProblem(options: InterceptionOptions): string | undefined {
  if (options.appPorts.length === 0) return "no app port to intercept";
  const bad = options.appPorts.find((p) => !isPort(p));
  if (bad !== undefined) return `app port ${bad} is not a port (1-65535)`;
  if (!isPort(options.sidecarPort)) return `sidecar port ${options.sidecarPort} is not a port (1-65535)`;
  if (options.appPorts.includes(options.sidecarPort)) return `app port ${options.sidecarPort} is the sidecar's inbound port: redirecting it would loop`;
  if (!Number.isInteger(options.proxyUid) || options.proxyUid < 0 || options.proxyUid > 0xffff_fffe) return `proxy uid ${options.proxyUid} is not a user id`;
  if (options.proxyUid === 0) return "proxy uid 0 would exempt every root process of the pod from interception";
  return undefined;
}

/** The rules of one family's nat table as the tail of an `iptables-restore --noflush` input. */
export function interceptionRules(options: InterceptionOptions, family: Family, existing: { jumps: boolean }): string {
  const problem = interceptionProblem(options);
  if (problem) throw new Error(problem);
  const ports = [...new Set(options.appPorts)].sort((a, b) => a - b).join(",");
  const redirect = `-p tcp -m multiport --dports ${ports} -j REDIRECT --to-ports ${options.sidecarPort}`;
  const lines = [
    "*nat",
    // Declaring a chain in a --noflush restore empties it: a rerun replaces Bulwark's rules.
    `:${Chains.inbound} - [0:0]`,
    `:${Chains.local} - [0:0]`,
    ...(existing.jumps ? [] : [`-A PREROUTING -p tcp -j ${Chains.inbound}`, `-A OUTPUT -p tcp -j ${Chains.local}`]),
    `-A ${Chains.inbound} ${redirect}`,
    `-A ${Chains.local} -m owner --uid-owner ${options.proxyUid} -j RETURN`,
    `-A ${Chains.local} -d ${LOOPBACK[family]} -j RETURN`,
    `-A ${Chains.local} ${redirect}`,
    "COMMIT",
    "",
  ];
  return lines.join("\n");
}

/** Whether `iptables-save -t nat` output already jumps to Bulwark's chains (a rerun in the same pod). */
export function hasJumps(saved: string): boolean {
  const lines = saved.split("\n").map((l) => l.trim());
  return lines.some((l) => l.startsWith("-A PREROUTING") && l.endsWith(`-j ${Chains.inbound}`)) && lines.some((l) => l.startsWith("-A OUTPUT") && l.endsWith(`-j ${Chains.local}`));
}

/**
 * What is missing from `iptables-save -t nat` output for the interception to hold, checked
 * after programming (an empty list: all in place).
 */
export function missingRules(saved: string, options: InterceptionOptions): string[] {
  const lines = saved.split("\n").map((l) => l.trim().replace(/\s+/g, " "));
  const missing: string[] = [];
  if (!hasJumps(saved)) missing.push(`the jumps from PREROUTING and OUTPUT to ${Chains.inbound} and ${Chains.local}`);
  for (const port of options.appPorts) {
    for (const chain of [Chains.inbound, Chains.local]) {
      const found = lines.some((l) => l.startsWith(`-A ${chain} `) && l.includes("-j REDIRECT") && l.includes(`--to-ports ${options.sidecarPort}`) && portListed(l, port));
      if (!found) missing.push(`${chain}: port ${port} redirected to ${options.sidecarPort}`);
    }
  }
  return missing;
}

function portListed(line: string, port: number): boolean {
  const m = /--dports ([0-9,:]+)/.exec(line) ?? /--dport ([0-9]+)/.exec(line);
  return m?.[1]?.split(",").includes(String(port)) ?? false;
}
