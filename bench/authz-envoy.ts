/**
 * Benchmark: the latency a request gains through one Envoy sidecar (the pinned Envoy build,
 * --concurrency 1, configured by the real translation) for each of the four scenarios of
 * bench/authz-stack.ts, side by side in one run: (a) no check, (b) Envoy's jwt_authn, (c)
 * jwt_authn + bulwark authz without DPoP (ownership), (d) jwt_authn + bulwark authz with DPoP
 * (memory replay store, and again with Redis). Open loop at a fixed rate from a load generator in
 * its own process (keep-alive HTTP/1.1), tokens and proofs made beforehand, one fresh proof per
 * request. Rounds interleave the scenarios so that background noise spreads evenly over them.
 * Processes are not pinned (authz-grpc measures a pinned core).
 * Added latency = a scenario's percentile minus the same percentile of (a).
 * BENCH_AUTHZ_QUICK=1: 500 requests per scenario and round, no results file;
 * The authz servers run with the chart's authz.nodeOptions (BENCH_NODE_OPTIONS replaces them).
 * BENCH_AUTHZ_PROFILE=DIR writes the authz servers' CPU profiles there; BENCH_AUTHZ_SERVER_FLAGS adds
 * Node flags to them (e.g. "--trace-gc").
 * Each case also reports the CPU and run-queue wait (from /proc) of every process on the path per
 * measured request — its Envoy, authz, the load generator, Redis and the app (this process) — and
 * authz's event-loop delay and GC pauses, to tell queueing from work.
 */
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { createServer, request, type Server } from "node:http";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { standaloneBootstrap } from "../envoy/bootstrap/standalone-bootstrap.js";
import type { TranslationSettings } from "../contract/ir.js";
import { render } from "../operator/translate/render.js";
import { freePort, startProcess, waitUntilReady, type ManagedProcess } from "../test/env/processes.js";
import { provisionEnvoy } from "../test/env/provision/envoy-binary.js";
import { provisionRedis } from "../test/env/provision/redis-binary.js";
import { startRedis } from "../test/env/redis.js";
import { DpopKey, TestIssuer } from "../test/support/authz-client.js";
import { AUDIENCE, benchInput, cores, HOST, ISSUER, PATH, RESULTS_DIR, SCENARIO_DESCRIPTIONS, SCENARIOS, USER, Worker, type Scenario, type WorkerReply } from "./authz-stack.js";
import type { Benchmark } from "./benchmark.js";
import { authzServerFlags } from "./compiled-cli.js";
import { ProcessMeter, rssMiBOf, type ProcessSample } from "./process-stats.js";
import { percentile } from "./stats.js";

const quick = process.env.BENCH_AUTHZ_QUICK === "1";
const RATE = 1000;
const ROUNDS = 2;
const MEASURED_PER_ROUND = quick ? 500 : 2500;
const WARMUP = quick ? 100 : 300;

/** A scenario as run: (d) once with each replay store. */
interface Case {
  name: string;
  scenario: Scenario;
  replay?: "memory" | "redis";
}

const CASES: Case[] = [
  { name: "passthrough", scenario: "passthrough" },
  { name: "jwt-authn", scenario: "jwt-authn" },
  { name: "authz-jwt", scenario: "authz-jwt", replay: "memory" },
  { name: "authz-jwt-dpop", scenario: "authz-jwt-dpop", replay: "memory" },
  { name: "authz-jwt-dpop-redis", scenario: "authz-jwt-dpop", replay: "redis" },
];

export interface AuthzEnvoyResult {
  case: string;
  description: string;
  replayStore: string;
  requests: number;
  statuses: Record<string, number>;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  maxUs: number;
  addedP50Us: number;
  addedP99Us: number;
  achievedRps: number;
  lateSends: number;
  /** CPU microseconds each process used per measured request (envoy: this case's sidecar; app: the benchmark process, which serves the app). */
  cpuUsPerRequest: Record<string, number>;
  /** Microseconds per request each process spent runnable but waiting for a CPU (contention). */
  runQueueUsPerRequest: Record<string, number>;
  /** The authz server's event-loop delay (queueing behind work) and GC pauses while measured; absent without authz. */
  authzLoopDelay?: { p50Us: number; p99Us: number; maxUs: number };
  authzGc?: { count: number; pauseMs: number; maxPauseMs: number; byKind: Record<string, number> };
}

/** What the processes of one case used over its measured requests, all rounds together. */
interface CaseUsage {
  requests: number;
  cpuSeconds: Record<string, number>;
  runQueueSeconds: Record<string, number>;
  loop: Extract<WorkerReply, { kind: "loop-stats" }>[];
}

function emptyUsage(): CaseUsage {
  return { requests: 0, cpuSeconds: {}, runQueueSeconds: {}, loop: [] };
}

function addUsage(
  usage: CaseUsage | undefined,
  round: { used: Record<string, ProcessSample>; loop: Extract<WorkerReply, { kind: "loop-stats" }> | undefined; requests: number },
): void {
  if (!usage) return;
  usage.requests += round.requests;
  for (const [name, sample] of Object.entries(round.used)) {
    usage.cpuSeconds[name] = (usage.cpuSeconds[name] ?? 0) + sample.cpuSeconds;
    usage.runQueueSeconds[name] = (usage.runQueueSeconds[name] ?? 0) + sample.runQueueSeconds;
  }
  if (round.loop) usage.loop.push(round.loop);
}

function perRequestUs(seconds: Record<string, number>, requests: number): Record<string, number> {
  return Object.fromEntries(Object.entries(seconds).map(([name, s]) => [name, Math.round((s * 1e6) / Math.max(1, requests))]));
}

function usageSummary(usage: CaseUsage): Pick<AuthzEnvoyResult, "cpuUsPerRequest" | "runQueueUsPerRequest" | "authzLoopDelay" | "authzGc"> {
  const out: ReturnType<typeof usageSummary> = {
    cpuUsPerRequest: perRequestUs(usage.cpuSeconds, usage.requests),
    runQueueUsPerRequest: perRequestUs(usage.runQueueSeconds, usage.requests),
  };
  if (usage.loop.length === 0) return out;
  const worst = (f: (l: CaseUsage["loop"][number]) => number): number => usage.loop.reduce((m, l) => Math.max(m, f(l)), 0);
  out.authzLoopDelay = { p50Us: worst((l) => l.loopDelay.p50Us), p99Us: worst((l) => l.loopDelay.p99Us), maxUs: worst((l) => l.loopDelay.maxUs) };
  out.authzGc = {
    count: usage.loop.reduce((n, l) => n + l.gc.count, 0),
    pauseMs: Number(usage.loop.reduce((n, l) => n + l.gc.pauseMs, 0).toFixed(1)),
    maxPauseMs: worst((l) => l.gc.maxPauseMs),
    byKind: usage.loop.reduce<Record<string, number>>((all, l) => {
      for (const [kind, n] of Object.entries(l.gc.byKind)) all[kind] = (all[kind] ?? 0) + n;
      return all;
    }, {}),
  };
  return out;
}

function adminReady(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, path: "/ready", timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on("error", () => resolve(false));
    req.on("timeout", () => req.destroy());
    req.end();
  });
}

async function startEnvoy(envoy: string, bootstrap: Record<string, unknown>, name: string, dir: string): Promise<ManagedProcess> {
  const adminPort = await freePort();
  const configPath = join(dir, `${name}.yaml`);
  await writeFile(configPath, stringify({ ...bootstrap, admin: { address: { socket_address: { address: "127.0.0.1", port_value: adminPort } } } }));
  const proc = startProcess({
    name,
    command: envoy,
    args: ["--config-path", configPath, "--disable-hot-restart", "--log-level", "warn", "--concurrency", "1"],
    logFile: join(dir, `${name}.log`),
  });
  await waitUntilReady(proc, () => adminReady(adminPort), 30_000);
  return proc;
}

function envoyVersion(envoy: string): string {
  try {
    // "version: <commit>/1.40.0/Clean/RELEASE/BoringSSL"
    return /version: [0-9a-f]+\/([^/\s]+)/.exec(execFileSync(envoy, ["--version"], { encoding: "utf8" }))?.[1] ?? "unknown";
  } catch {
    return "unknown";
  }
}

interface RequestSpec {
  path: string;
  headers: Record<string, string>;
}

/** Requests for one case and round: the same token throughout, a fresh proof each under DPoP. */
async function requestsFor(c: Case, count: number, idp: TestIssuer, key: DpopKey, tokens: { bearer: string; bound: string }): Promise<RequestSpec[]> {
  if (c.scenario !== "authz-jwt-dpop") return Array.from({ length: count }, () => ({ path: PATH, headers: { authorization: `Bearer ${tokens.bearer}` } }));
  const proofs = await Promise.all(Array.from({ length: count }, () => key.proof({ htm: "GET", htu: `http://${HOST}${PATH}`, accessToken: tokens.bound })));
  return proofs.map((dpop) => ({ path: PATH, headers: { authorization: `DPoP ${tokens.bound}`, dpop } }));
}

export interface AuthzEnvoyMeta {
  node: string;
  envoy: string;
  /** The authz servers' Node.js flags: the chart's authz.nodeOptions unless BENCH_NODE_OPTIONS replaced them. */
  nodeFlags: string[];
  cpu: string | undefined;
  cores: number;
  /** The machine's 1-minute load average when the run ended: how quiet it was. */
  loadAverage1m: number;
  /** The same when the measured rounds began. */
  loadAverage1mAtStart: number;
  /** Resident memory of each authz server after the run. */
  authzRssMiB: { memory: number; redis: number };
  pinned: boolean;
  envoyConcurrency: number;
  rate: number;
  rounds: number;
  requestsPerRound: number;
  warmupPerRound: number;
}

export async function runAuthzEnvoyBench(): Promise<{ results: AuthzEnvoyResult[]; meta: AuthzEnvoyMeta }> {
  const { envoy } = await provisionEnvoy();
  const { redisServer } = await provisionRedis();
  const dir = await mkdtemp(join(tmpdir(), "bulwark-bench-authz-envoy-"));
  const redis = await startRedis({ dir, redisServer, keepAlive: false });
  const core = cores();
  const app: Server = createServer((_req, res) => {
    res.setHeader("content-type", "application/json");
    res.end('{"orders":[]}');
  });
  const envoys: ManagedProcess[] = [];
  const servers: Worker[] = [];
  let load: Worker | undefined;
  try {
    await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", resolve));
    const address = app.address();
    if (!address || typeof address !== "object") throw new Error("the app has no port");
    const idp = await TestIssuer.create(ISSUER);
    const key = await DpopKey.generate("ES256");
    const tokens = {
      bearer: await idp.sign({ sub: USER }, { audience: AUDIENCE, lifetimeSeconds: 3600 }),
      bound: await idp.sign({ sub: USER, cnf: { jkt: key.jkt } }, { audience: AUDIENCE, lifetimeSeconds: 3600 }),
    };
    const sidecarPorts: Partial<Record<Scenario, number>> = {};
    for (const s of SCENARIOS) sidecarPorts[s] = await freePort();
    const input = benchInput({ jwks: idp.jwks, appPort: address.port, sidecarPorts });

    // bulwark authz: one process per replay store. Not pinned: like a sidecar's neighbour, it runs
    // wherever the scheduler finds room (at 1,000 rps it needs a fraction of a core).
    const authzPorts: Record<"memory" | "redis", number> = { memory: 0, redis: 0 };
    for (const store of ["memory", "redis"] as const) {
      const profileDir = process.env.BENCH_AUTHZ_PROFILE;
      const nodeFlags = authzServerFlags();
      const server = new Worker(`authz-server-${store}`, { nodeFlags, ...(profileDir ? { profileDir } : {}) });
      servers.push(server);
      authzPorts[store] = (await server.ask({ kind: "serve", input, ...(store === "redis" ? { redisUrl: redis.url, redisPrefix: `bench:${Date.now()}:` } : {}) }, "serving")).port;
    }

    // One Envoy per case, each rendered from the same translation input.
    const listeners = new Map<string, number>();
    for (const c of CASES) {
      const settings: TranslationSettings = {
        authz: { host: "127.0.0.1", port: authzPorts[c.replay ?? "memory"], timeoutMs: 1000 },
        ratelimit: { host: "127.0.0.1", port: 1, timeoutMs: 100 },
        rateLimitDomain: "bulwark",
      };
      const workload = render(input, settings).workloads.find((w) => w.workload.startsWith(`apisecuritypolicy/bench/${c.scenario}/`));
      if (!workload) throw new Error(`no workload rendered for ${c.scenario}`);
      envoys.push(await startEnvoy(envoy, standaloneBootstrap(workload.resources), `envoy-${c.name}`, dir));
      listeners.set(c.name, sidecarPorts[c.scenario] ?? 0);
    }

    load = new Worker("authz-load-http");
    const latencies = new Map<string, number[]>(CASES.map((c) => [c.name, []]));
    const statuses = new Map<string, Record<string, number>>(CASES.map((c) => [c.name, {}]));
    const seconds = new Map<string, number>(CASES.map((c) => [c.name, 0]));
    const late = new Map<string, number>(CASES.map((c) => [c.name, 0]));
    const usage = new Map<string, CaseUsage>(CASES.map((c) => [c.name, emptyUsage()]));
    const loadAverageAtStart = Number((loadavg()[0] ?? 0).toFixed(2));
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, c] of CASES.entries()) {
        const file = join(dir, `${c.name}-${round}.json`);
        await writeFile(file, JSON.stringify(await requestsFor(c, WARMUP + MEASURED_PER_ROUND, idp, key, tokens)));
        const authz = c.replay ? servers[c.replay === "redis" ? 1 : 0] : undefined;
        const pids = new Map<string, number>([
          ["envoy", envoys[i]?.pid ?? 0],
          ["load", load.pid],
          ["app", process.pid],
          ["redis", redis.process.pid],
          ...(authz ? ([["authz", authz.pid]] as const) : []),
        ]);
        let meter: ProcessMeter | undefined;
        const measuring = load.ask(undefined, "measuring").then(async () => {
          meter = new ProcessMeter(pids);
          await authz?.ask({ kind: "loop-stats" }, "loop-stats");
        });
        const done = await load.ask({ kind: "http-load", port: listeners.get(c.name) ?? 0, file, rate: RATE, warmup: WARMUP }, "http-done");
        await measuring;
        addUsage(usage.get(c.name), { used: meter?.read() ?? {}, loop: await authz?.ask({ kind: "loop-stats" }, "loop-stats"), requests: done.latenciesUs.length });
        latencies.get(c.name)?.push(...done.latenciesUs);
        const counted = statuses.get(c.name) ?? {};
        for (const [status, n] of Object.entries(done.statuses)) counted[status] = (counted[status] ?? 0) + n;
        seconds.set(c.name, (seconds.get(c.name) ?? 0) + done.seconds);
        late.set(c.name, (late.get(c.name) ?? 0) + done.lateSends);
      }
    }

    const summary = CASES.map((c) => {
      const sorted = Float64Array.from(latencies.get(c.name) ?? []).sort();
      return { c, sorted, p50: percentile(sorted, 0.5), p90: percentile(sorted, 0.9), p99: percentile(sorted, 0.99), max: sorted[sorted.length - 1] ?? Number.NaN };
    });
    const base = summary[0];
    const results = summary.map(({ c, sorted, p50, p90, p99, max }) => ({
      case: c.name,
      description: SCENARIO_DESCRIPTIONS[c.scenario] + (c.replay === "redis" ? ", Redis replay store" : ""),
      replayStore: c.scenario === "authz-jwt-dpop" ? (c.replay ?? "memory") : "none",
      requests: sorted.length,
      statuses: statuses.get(c.name) ?? {},
      p50Us: Math.round(p50),
      p90Us: Math.round(p90),
      p99Us: Math.round(p99),
      maxUs: Math.round(max),
      addedP50Us: Math.round(p50 - (base?.p50 ?? 0)),
      addedP99Us: Math.round(p99 - (base?.p99 ?? 0)),
      achievedRps: Math.round(sorted.length / (seconds.get(c.name) ?? 1)),
      lateSends: late.get(c.name) ?? 0,
      ...usageSummary(usage.get(c.name) ?? emptyUsage()),
    }));
    const meta: AuthzEnvoyMeta = {
      node: process.version,
      envoy: envoyVersion(envoy),
      nodeFlags: authzServerFlags(),
      cpu: cpus()[0]?.model,
      cores: core.count,
      loadAverage1m: Number((loadavg()[0] ?? 0).toFixed(2)),
      loadAverage1mAtStart: loadAverageAtStart,
      authzRssMiB: { memory: rssMiBOf(servers[0]?.pid ?? 0), redis: rssMiBOf(servers[1]?.pid ?? 0) },
      pinned: false,
      envoyConcurrency: 1,
      rate: RATE,
      rounds: ROUNDS,
      requestsPerRound: MEASURED_PER_ROUND,
      warmupPerRound: WARMUP,
    };
    return { results, meta };
  } finally {
    await load?.stop();
    for (const s of servers) await s.stop();
    for (const e of envoys) await e.stop();
    await new Promise((resolve) => app.close(resolve));
    await redis.process.stop();
  }
}

export const authzEnvoy: Benchmark = {
  name: "authz-envoy",
  async run(): Promise<void> {
    const { results, meta } = await runAuthzEnvoyBench();
    console.log(
      `Through Envoy ${meta.envoy} (--concurrency 1), open loop at ${RATE} rps, ${ROUNDS} interleaved rounds of ${MEASURED_PER_ROUND} requests per case (after ${WARMUP} warm-up); ${meta.cores} cores, nothing pinned, load average ${meta.loadAverage1m}; Node ${meta.node}`,
    );
    console.log("case                   requests  p50 µs  p90 µs  p99 µs  added p50  added p99  rps");
    for (const r of results) {
      console.log(
        `${r.case.padEnd(22)} ${String(r.requests).padStart(8)} ${String(r.p50Us).padStart(7)} ${String(r.p90Us).padStart(7)} ${String(r.p99Us).padStart(7)} ${String(r.addedP50Us).padStart(10)} ${String(r.addedP99Us).padStart(10)} ${String(r.achievedRps).padStart(5)}`,
      );
    }
    console.log("CPU µs per request (run-queue wait µs per request)       authz event loop delay p50/p99/max µs, GC count/total ms/max ms");
    for (const r of results) {
      const cpu = Object.entries(r.cpuUsPerRequest)
        .map(([name, us]) => `${name} ${us} (${r.runQueueUsPerRequest[name] ?? 0})`)
        .join(", ");
      const loop = r.authzLoopDelay ? `  loop ${r.authzLoopDelay.p50Us}/${r.authzLoopDelay.p99Us}/${r.authzLoopDelay.maxUs}` : "";
      const gc = r.authzGc ? `, GC ${r.authzGc.count}/${r.authzGc.pauseMs}/${r.authzGc.maxPauseMs} ${JSON.stringify(r.authzGc.byKind)}` : "";
      console.log(`  ${r.case.padEnd(22)} ${cpu}${loop}${gc}`);
    }
    console.log(
      `authz RSS MiB: memory ${meta.authzRssMiB.memory}, redis ${meta.authzRssMiB.redis}; load average ${meta.loadAverage1mAtStart} at start, ${meta.loadAverage1m} at end`,
    );
    for (const r of results) console.log(`  ${r.case}: ${r.description}`);
    // After the table and the file, so that an overloaded run (Envoy's 1 s authz timeout answers
    // 503) still shows where the time went; allLetThrough says whether the run is a valid one.
    const refused = results.filter((r) => Object.keys(r.statuses).some((status) => status !== "200"));
    if (!quick) {
      await mkdir(RESULTS_DIR, { recursive: true });
      await writeFile(join(RESULTS_DIR, "authz-envoy.json"), `${JSON.stringify({ ...meta, allLetThrough: refused.length === 0, results }, null, 2)}\n`);
    }
    for (const r of refused) throw new Error(`${r.case}: not every request was let through: ${JSON.stringify(r.statuses)}`);
  },
};
