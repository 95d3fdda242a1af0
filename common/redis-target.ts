/**
 * Where the shared state lives: one Redis (`--redis-url`) or a Redis Cluster
 * (`--redis-cluster-nodes HOST:PORT,...`, any few of its nodes: the client learns the rest and
 * follows failovers). Parsing only; each service builds its own client from it.
 */
export type RedisTarget = { kind: "single"; url: string } | { kind: "cluster"; nodes: { host: string; port: number }[] };

/** A flag value that cannot be used, with a message that says what is allowed. */
export class RedisTargetError extends Error {}

/** `HOST:PORT,HOST:PORT,...` (IPv6 hosts in brackets) as seed nodes. */
export function parseClusterNodes(value: string): { host: string; port: number }[] {
  const parts = value.split(",").map((p) => p.trim());
  if (parts.length === 0 || parts.some((p) => p === "")) throw new RedisTargetError(`--redis-cluster-nodes ${value} is not a comma-separated list of HOST:PORT`);
  return parts.map((part) => {
    const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$/.exec(part);
    const port = Number(m?.[2]);
    if (!m || port < 1 || port > 65535) throw new RedisTargetError(`--redis-cluster-nodes: ${part} is not HOST:PORT (a port from 1 to 65535)`);
    return { host: (m[1] as string).replace(/^\[(.*)\]$/, "$1"), port };
  });
}

/** The target named by the two flags (at most one of them); undefined when neither is set (memory only). */
export function redisTarget(flags: { url?: string | undefined; clusterNodes?: string | undefined }): RedisTarget | undefined {
  const url = flags.url ?? "";
  const nodes = flags.clusterNodes ?? "";
  if (url && nodes) throw new RedisTargetError("--redis-url and --redis-cluster-nodes name two different stores: set one of them");
  if (nodes) return { kind: "cluster", nodes: parseClusterNodes(nodes) };
  if (!url) return undefined;
  if (!/^rediss?:\/\//.test(url)) throw new RedisTargetError(`--redis-url ${url} is not a redis:// or rediss:// URL`);
  return { kind: "single", url };
}

/** How a log line names the store. */
export function describeTarget(target: RedisTarget | undefined): string {
  if (!target) return "memory";
  return target.kind === "single" ? "redis" : `redis-cluster (${target.nodes.length} seed nodes)`;
}
