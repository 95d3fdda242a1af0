import { fork, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { encodeResource } from "../envoy/proto/encode.js";
import { SnapshotCache } from "../envoy/xds/cache.js";
import { XdsServer } from "../envoy/xds/server.js";
import type { Snapshot } from "../envoy/snapshot/snapshot.js";
import { freePort } from "../test/env/processes.js";
import { listenerJson, sidecarSnapshot, type SidecarFixture } from "../test/support/xds-resources.js";
import { startSidecar, type Sidecar } from "../test/support/xds-sidecar.js";
import { fleetNodeId, type FleetMessage, type FleetOptions } from "./fleet-protocol.js";
import { type Scenario, type ScenarioMessage, type ScenarioResult } from "./xds-push-scenario.js";
import { percentiles } from "./stats.js";

/**
 * One scenario of the xDS push benchmark, in a process of its own so that its memory and CPU
 * figures are the xDS server's alone: the server runs here; the sidecars (real Envoys, or the
 * simulated ones in one forked process) run elsewhere.
 */

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, "..");
/** Two upstream ports that alternate: every push changes the endpoints (EDS) and the routes (RDS) of every sidecar. */
const UPSTREAM_PORTS = [10_001, 10_002] as const;
const ROUTES_PER_SIDECAR = 20;

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function measure(): { rss: number; heap: number } {
  gc();
  gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed + m.external };
}

function cpuMicros(): number {
  const c = process.cpuUsage();
  return c.user + c.system;
}

/** Follows every sidecar from setSnapshot to the ACK of all it changed; calls `onSynced` with the latency. */
class PushTracker {
  private readonly pending = new Map<string, number>();
  private drainedWaiter: (() => void) | undefined;
  onSynced: (nodeId: string, latencyMs: number) => void = () => undefined;

  constructor(private readonly cache: SnapshotCache) {
    cache.onAck((event) => this.acked(event.nodeId));
  }

  push(nodeId: string, snapshot: Snapshot): void {
    this.pending.set(nodeId, performance.now());
    const result = this.cache.setSnapshot(nodeId, snapshot);
    if (!result.ok || !result.changed) throw new Error(`setSnapshot(${nodeId}) did not change anything: ${JSON.stringify(result)}`);
  }

  get outstanding(): number {
    return this.pending.size;
  }

  drained(timeoutMs: number, what: string): Promise<void> {
    if (this.pending.size === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${what}: ${this.pending.size} sidecars did not acknowledge within ${timeoutMs} ms`)), timeoutMs);
      this.drainedWaiter = () => {
        clearTimeout(timer);
        this.drainedWaiter = undefined;
        resolve();
      };
    });
  }

  private acked(nodeId: string): void {
    const since = this.pending.get(nodeId);
    if (since === undefined || !this.cache.isInSync(nodeId)) return;
    this.pending.delete(nodeId);
    this.onSynced(nodeId, performance.now() - since);
    if (this.pending.size === 0) this.drainedWaiter?.();
  }
}

interface Clients {
  processes: number;
  /** CPU time of the simulated sidecars' process so far (µs); undefined for real Envoys. */
  cpuMicros(): Promise<number | undefined>;
  stop(): Promise<{ rssBytes: number; cpuMs?: number; redials?: number }>;
}

function rssOfPid(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match?.[1] ? Number(match[1]) * 1024 : 0;
}

async function startEnvoys(scenario: Scenario, nodeIds: readonly string[], xdsPort: number): Promise<Clients> {
  const sidecars: Sidecar[] = [];
  try {
    for (const nodeId of nodeIds)
      sidecars.push(await startSidecar({ envoyBinary: scenario.envoyBinary, nodeId, xdsPort, delta: scenario.delta, waitReady: false, logLevel: "error" }));
  } catch (error) {
    await Promise.all(sidecars.map((s) => s.stop()));
    throw error;
  }
  return {
    processes: sidecars.length,
    cpuMicros: () => Promise.resolve(undefined),
    async stop(): Promise<{ rssBytes: number }> {
      const rssBytes = sidecars.reduce((sum, s) => sum + rssOfPid(s.process.pid), 0);
      await Promise.all(sidecars.map((s) => s.stop()));
      return { rssBytes };
    },
  };
}

function startFleet(options: FleetOptions): Promise<Clients> {
  const child: ChildProcess = fork(join(here, "ads-fleet.ts"), [], {
    cwd: repoRoot,
    execArgv: ["--import", "tsx"],
    env: { ...process.env, BULWARK_FLEET: JSON.stringify(options) },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const next = (kind: FleetMessage["kind"], timeoutMs: number): Promise<FleetMessage> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the ADS client process did not report "${kind}" within ${timeoutMs} ms`)), timeoutMs);
      const onExit = (code: number | null): void => reject(new Error(`the ADS client process exited with ${code}`));
      const onMessage = (message: FleetMessage): void => {
        if (message.kind !== kind) return;
        clearTimeout(timer);
        child.off("message", onMessage);
        child.off("exit", onExit);
        resolve(message);
      };
      child.on("message", onMessage);
      child.once("exit", onExit);
    });
  return next("started", 120_000).then(() => ({
    processes: 1,
    async cpuMicros(): Promise<number> {
      const reported = next("cpu", 10_000);
      child.send({ kind: "cpu" });
      const message = await reported;
      return message.kind === "cpu" ? message.cpuMicros : 0;
    },
    async stop(): Promise<{ rssBytes: number; cpuMs: number; redials: number }> {
      const stopped = next("stopped", 10_000);
      child.send({ kind: "stop" });
      const message = await stopped;
      if (message.kind !== "stopped") throw new Error("unexpected message");
      if (message.errors > 0) throw new Error(`${message.errors} simulated sidecars lost their stream`);
      return { rssBytes: message.rssBytes, cpuMs: message.cpuMicros / 1000, redials: message.redials };
    },
  }));
}

async function until(probe: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what()}`);
    await sleep(10);
  }
}

/** Closed loop: each sidecar gets its next snapshot as soon as it has acknowledged the last one. */
async function throughputPhase(
  tracker: PushTracker,
  nodeIds: readonly string[],
  nextOf: (nodeId: string, i: number) => Snapshot,
  durationMs: number,
): Promise<NonNullable<ScenarioResult["throughput"]>> {
  const index = new Map(nodeIds.map((id, i) => [id, i]));
  const loadedLatencies: number[] = [];
  let running = true;
  let completed = 0;
  tracker.onSynced = (nodeId, ms) => {
    completed += 1;
    loadedLatencies.push(ms);
    if (running) setImmediate(() => tracker.push(nodeId, nextOf(nodeId, index.get(nodeId) ?? 0)));
  };
  const loopStart = performance.now();
  nodeIds.forEach((nodeId, i) => tracker.push(nodeId, nextOf(nodeId, i)));
  await sleep(durationMs);
  running = false;
  const seconds = (performance.now() - loopStart) / 1000;
  const updates = completed;
  await sleep(0);
  await tracker.drained(60_000, "the end of the throughput phase");
  return { updatesPerSecond: Math.round(updates / seconds), updates, seconds: Math.round(seconds * 100) / 100, pushMs: percentiles(loadedLatencies) };
}

export async function runScenario(scenario: Scenario): Promise<ScenarioResult> {
  const loadAtStart = loadavg()[0] ?? 0;
  const n = scenario.sidecars;
  const prefix = `${scenario.client}-${scenario.delta ? "delta" : "sotw"}`;
  const nodeIds = Array.from({ length: n }, (_, i) => fleetNodeId(prefix, i));
  // Load the Envoy API and the ADS service definition before the baseline.
  encodeResource(listenerJson(1));
  const cache = new SnapshotCache();
  const server = new XdsServer({ host: "127.0.0.1", port: 0, cache, authentication: "none" });
  const xdsPort = await server.start();
  let clients: Clients | undefined;
  try {
    const base = measure();

    // Every sidecar has its own snapshot (its own listener port), as the controller would give it.
    const listenerPorts = scenario.client === "envoy" ? await Promise.all(nodeIds.map(() => freePort())) : nodeIds.map((_, i) => 20_000 + i);
    const fixtures = nodeIds.map((_, i): SidecarFixture[] =>
      UPSTREAM_PORTS.map((upstreamPort, v) => ({ listenerPort: listenerPorts[i] ?? 0, upstreamPort, configTag: `variant-${v}`, extraRoutes: ROUTES_PER_SIDECAR })),
    );
    nodeIds.forEach((nodeId, i) => cache.setSnapshot(nodeId, sidecarSnapshot(fixtures[i]?.[0] as SidecarFixture)));
    const withSnapshots = measure();

    // Sidecars that acknowledged their whole first snapshot, followed by ACK events (no polling of every sidecar).
    const synced = new Set<string>();
    const stopFollowing = cache.onAck((event) => {
      if (!synced.has(event.nodeId) && cache.isInSync(event.nodeId)) synced.add(event.nodeId);
    });
    const cpuConnect = cpuMicros();
    const connectStart = performance.now();
    clients =
      scenario.client === "envoy"
        ? await startEnvoys(scenario, nodeIds, xdsPort)
        : await startFleet({
            target: `127.0.0.1:${xdsPort}`,
            count: n,
            delta: scenario.delta,
            nodePrefix: prefix,
            client: scenario.fleetClient ?? "wire",
            batch: scenario.dialBatch ?? 50,
          });
    await until(
      () => synced.size === n,
      Math.max(120_000, n * 30),
      () => `${n} sidecars to acknowledge their first snapshot (${synced.size} did, ${cache.connectedSidecars()} connected)`,
    );
    stopFollowing();
    const connectMs = performance.now() - connectStart;
    const connectCpu = cpuMicros() - cpuConnect;
    const clientConnectCpu = await clients.cpuMicros();
    const connected = measure();
    if (cache.connectedSidecars() !== n) throw new Error(`${cache.connectedSidecars()} sidecars connected, expected ${n}`);

    // Both variants of every snapshot exist before the timed phases (the translation is not what is measured).
    const variants: Snapshot[][] = nodeIds.map((nodeId, i) => [cache.getSnapshot(nodeId) as Snapshot, sidecarSnapshot(fixtures[i]?.[1] as SidecarFixture)]);
    const current = new Map<string, number>(nodeIds.map((id) => [id, 0]));
    const nextOf = (nodeId: string, i: number): Snapshot => {
      const v = 1 - (current.get(nodeId) ?? 0);
      current.set(nodeId, v);
      return variants[i]?.[v] as Snapshot;
    };

    const idleCpu = cpuMicros();
    const idleStart = performance.now();
    await sleep(2000);
    const idleMicrosPerSidecarSecond = (cpuMicros() - idleCpu) / n / ((performance.now() - idleStart) / 1000);

    // One change that concerns one sidecar: the others must cost nothing.
    const tracker = new PushTracker(cache);
    const singleLatencies: number[] = [];
    tracker.onSynced = (_node, ms) => singleLatencies.push(ms);
    for (let k = 0; k < (scenario.singlePushes ?? 0); k++) {
      const i = (k * 7919) % n;
      const nodeId = nodeIds[i] as string;
      tracker.push(nodeId, nextOf(nodeId, i));
      await tracker.drained(10_000, `single push ${k}`);
      await sleep(5);
    }

    // Latency: rounds in which every sidecar's snapshot changes once.
    const latencies: number[] = [];
    const roundTimes: number[] = [];
    tracker.onSynced = (_node, ms) => latencies.push(ms);
    let roundsCpu = 0;
    let clientRoundsCpu = 0;
    for (let round = 0; round < scenario.rounds; round++) {
      const clientCpuStart = await clients.cpuMicros();
      const cpuStart = cpuMicros();
      const start = performance.now();
      nodeIds.forEach((nodeId, i) => tracker.push(nodeId, nextOf(nodeId, i)));
      await tracker.drained(Math.max(60_000, n * 10), `round ${round}`);
      roundTimes.push(performance.now() - start);
      roundsCpu += cpuMicros() - cpuStart;
      const clientCpuEnd = await clients.cpuMicros();
      if (clientCpuStart !== undefined && clientCpuEnd !== undefined) clientRoundsCpu += clientCpuEnd - clientCpuStart;
      await sleep(20);
    }
    const pushMicrosPerUpdate = roundsCpu / (n * scenario.rounds);
    const measuredClientCpu = clientConnectCpu !== undefined;

    const throughput = scenario.throughputMs > 0 ? await throughputPhase(tracker, nodeIds, nextOf, scenario.throughputMs) : undefined;

    const clientProcesses = clients.processes;
    const clientFigures = await clients.stop();
    clients = undefined;
    return {
      scenario: {
        sidecars: n,
        client: scenario.client,
        delta: scenario.delta,
        rounds: scenario.rounds,
        throughputMs: scenario.throughputMs,
        ...(scenario.singlePushes ? { singlePushes: scenario.singlePushes } : {}),
        ...(scenario.client === "ads-client" ? { fleetClient: scenario.fleetClient ?? "wire", dialBatch: scenario.dialBatch ?? 50 } : {}),
      },
      connectMs: Math.round(connectMs),
      pushMs: percentiles(latencies),
      roundMs: percentiles(roundTimes),
      ...(singleLatencies.length > 0 ? { singlePushMs: percentiles(singleLatencies) } : {}),
      cpu: {
        connectMsPerSidecar: Math.round((connectCpu / n / 1000) * 1000) / 1000,
        pushMicrosPerUpdate: Math.round(pushMicrosPerUpdate),
        idleMicrosPerSidecarSecond: Math.round(idleMicrosPerSidecarSecond * 10) / 10,
      },
      memory: {
        snapshotRssBytesPerSidecar: Math.round((withSnapshots.rss - base.rss) / n),
        streamRssBytesPerSidecar: Math.round((connected.rss - withSnapshots.rss) / n),
        rssBytesPerSidecar: Math.round((connected.rss - base.rss) / n),
        heapBytesPerSidecar: Math.round((connected.heap - base.heap) / n),
        serverRssBytes: connected.rss,
        idleServerRssBytes: base.rss,
      },
      ...(throughput ? { throughput } : {}),
      machineLoad: { start: Math.round(loadAtStart * 100) / 100, end: Math.round((loadavg()[0] ?? 0) * 100) / 100 },
      clients: {
        processes: clientProcesses,
        rssBytes: clientFigures.rssBytes,
        ...(clientFigures.cpuMs !== undefined ? { cpuMs: Math.round(clientFigures.cpuMs) } : {}),
        ...(clientFigures.redials !== undefined ? { redials: clientFigures.redials } : {}),
        ...(measuredClientCpu
          ? { connectMsPerSidecar: Math.round(((clientConnectCpu ?? 0) / n / 1000) * 1000) / 1000, pushMicrosPerUpdate: Math.round(clientRoundsCpu / (n * scenario.rounds)) }
          : {}),
      },
    };
  } finally {
    await clients?.stop().catch(() => undefined);
    server.kill();
  }
}

function reply(message: ScenarioMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) {
      console.log(JSON.stringify(message, null, 2));
      resolve();
      return;
    }
    process.send(message, () => resolve());
  });
}

const raw = process.env.BULWARK_BENCH_SCENARIO;
if (raw) {
  // Stopped by the benchmark (timeout) or the user: exit normally, so the Envoys started here are killed too.
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => process.exit(1));
  runScenario(JSON.parse(raw) as Scenario)
    .then((result) => reply({ kind: "result", result }))
    .catch((error: unknown) => reply({ kind: "error", message: error instanceof Error ? (error.stack ?? error.message) : String(error) }))
    .finally(() => process.exit(0));
}
