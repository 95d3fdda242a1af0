import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort, killGroup, startProcess, type ManagedProcess } from "../env/processes.js";
import { waitFor } from "./poll.js";

const run = promisify(execFile);

/** Debian's redis-cli (package redis-tools, installed with redis-server). */
export const REDIS_CLI = "/usr/bin/redis-cli";

export interface ClusterNode {
  port: number;
  process: ManagedProcess;
}

export interface LocalRedisCluster {
  /** host:port of every node, primaries and replicas. */
  nodes: string[];
  /** Runs redis-cli against one node and returns its output. */
  cli(port: number, ...args: string[]): Promise<string>;
  /** The port of a live primary that has a live replica (one whose loss the cluster survives), from CLUSTER NODES. */
  primaryWithReplica(): Promise<number>;
  /** SIGKILL to a node (no shutdown, no last write). */
  kill(port: number): void;
  /** Waits until every live node says cluster_state:ok and every slot is served. */
  waitHealthy(timeoutMs: number): Promise<void>;
  /** Waits until the live nodes agree that the node on `port` failed and a replica serves its slots. */
  waitFailedOver(port: number, timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts a real Redis Cluster on loopback: `primaries` redis-server processes with
 * --cluster-enabled yes and one replica each, joined with `redis-cli --cluster create`, without
 * persistence. A short cluster-node-timeout makes a replica take over a killed primary quickly.
 */
export async function startRedisCluster(options: { redisServer: string; primaries?: number; nodeTimeoutMs?: number }): Promise<LocalRedisCluster> {
  if (!existsSync(REDIS_CLI)) throw new Error(`${REDIS_CLI} is missing: install Debian's redis-tools (redis-server depends on it)`);
  const dir = await mkdtemp(join(tmpdir(), "bulwark-redis-cluster-"));
  const count = (options.primaries ?? 3) * 2;
  const nodes: ClusterNode[] = [];
  const live = new Set<number>();
  const cli = async (port: number, ...args: string[]): Promise<string> => (await run(REDIS_CLI, ["-h", "127.0.0.1", "-p", String(port), ...args], { timeout: 30_000 })).stdout;
  const stop = async (): Promise<void> => {
    for (const node of nodes.splice(0)) await node.process.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < count; i++) {
      const port = await freePort();
      const nodeDir = join(dir, String(port));
      await mkdir(nodeDir);
      const process = startProcess({
        name: `redis-server (cluster node ${port})`,
        command: options.redisServer,
        // cluster-require-full-coverage no: a shard that is down does not stop the others answering.
        args: [
          "--port",
          String(port),
          "--bind",
          "127.0.0.1",
          "--save",
          "",
          "--appendonly",
          "no",
          "--dir",
          nodeDir,
          "--daemonize",
          "no",
          "--cluster-enabled",
          "yes",
          "--cluster-config-file",
          "nodes.conf",
          "--cluster-node-timeout",
          String(options.nodeTimeoutMs ?? 2000),
          "--cluster-require-full-coverage",
          "no",
          // A replica's first full sync starts at once (the default waits 5 s for more replicas).
          "--repl-diskless-sync-delay",
          "0",
          "--maxmemory-policy",
          "noeviction",
        ],
        logFile: join(nodeDir, "redis.log"),
        keepAlive: false,
      });
      nodes.push({ port, process });
      live.add(port);
    }
    for (const node of nodes) await waitFor(`redis node ${node.port} answers`, async () => (await cli(node.port, "PING").catch(() => "")).includes("PONG"), 15_000);
    await run(REDIS_CLI, ["--cluster", "create", ...nodes.map((n) => `127.0.0.1:${n.port}`), "--cluster-replicas", "1", "--cluster-yes"], { timeout: 60_000 });
  } catch (error) {
    await stop();
    throw error;
  }
  const anyLive = (): number => {
    for (const port of live) return port;
    throw new Error("no redis cluster node is alive");
  };
  const cluster: LocalRedisCluster = {
    nodes: nodes.map((n) => `127.0.0.1:${n.port}`),
    cli,
    async primaryWithReplica(): Promise<number> {
      // CLUSTER NODES: <id> <ip:port@cport> <flags> <master id or -> ...
      const rows = (await cli(anyLive(), "CLUSTER", "NODES"))
        .split("\n")
        .filter(Boolean)
        .map((line) => line.split(" "))
        .map(([id, address, flags, master]) => ({ id, port: Number.parseInt(/:(\d+)@/.exec(address ?? "")?.[1] ?? "0", 10), flags: (flags ?? "").split(","), master }))
        .filter((row) => live.has(row.port) && !row.flags.some((f) => f.startsWith("fail")));
      const primary = rows.find((p) => p.flags.includes("master") && rows.some((r) => r.flags.includes("slave") && r.master === p.id));
      if (!primary) throw new Error("no live primary has a live replica");
      return primary.port;
    },
    kill(port: number): void {
      const node = nodes.find((n) => n.port === port);
      if (!node) throw new Error(`no cluster node on ${port}`);
      live.delete(port);
      killGroup(node.process.pid, "SIGKILL");
    },
    async waitHealthy(timeoutMs: number): Promise<void> {
      await waitFor(
        "every live redis cluster node says cluster_state:ok with every slot served",
        async () => {
          for (const port of live) {
            const info = await cli(port, "CLUSTER", "INFO").catch(() => "");
            if (!info.includes("cluster_state:ok") || !info.includes("cluster_slots_ok:16384")) return false;
          }
          return true;
        },
        timeoutMs,
        100,
      );
    },
    async waitFailedOver(port: number, timeoutMs: number): Promise<void> {
      await waitFor(
        `the live nodes mark ${port} as failed and a replica serves its slots`,
        async () => {
          for (const node of live) {
            const row = (await cli(node, "CLUSTER", "NODES").catch(() => ""))
              .split("\n")
              .map((line) => line.trim().split(/\s+/))
              .find((fields) => (fields[1] ?? "").includes(`:${port}@`));
            // flags "master,fail" (or "slave,fail") and no slot range left (fields 8 on): failed, and its slots moved.
            if (!row || !(row[2] ?? "").split(",").includes("fail") || row.slice(8).some((f) => /^\d/.test(f))) return false;
          }
          return true;
        },
        timeoutMs,
        100,
      );
      await cluster.waitHealthy(timeoutMs);
    },
    stop,
  };
  try {
    await cluster.waitHealthy(30_000);
    // A replica that never finished its first sync does not take over (cluster-replica-validity-factor).
    await waitFor(
      "every replica in sync with its primary",
      async () => {
        for (const node of nodes) {
          const info = await cli(node.port, "INFO", "replication").catch(() => "");
          if (info.includes("role:slave") && !info.includes("master_link_status:up")) return false;
        }
        return true;
      },
      60_000,
      100,
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return cluster;
}
