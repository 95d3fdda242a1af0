/**
 * Benchmark (#19 goal 5): the resident memory of the data-plane services as production runs them,
 * `node dist/cli/main.js ratelimit|authz -f DIR` (compiled, no tsx, no Kubernetes client: they
 * read files), each pinned to one core with a real Redis. Reported per service: RSS idle (3 s after
 * it is ready), and the peak and final RSS under load, sampled every 100 ms:
 *   - ratelimit: ShouldRateLimit for 10,000 devices, at 1,000/s and then at its maximum (64 in
 *     flight), from bench/ratelimit-load.ts;
 *   - authz: Check on the JWT + DPoP route with the Redis replay store, 64 in flight, each call a
 *     fresh proof, from bench/authz-worker.ts.
 * Each runs with the Node.js flags the Helm chart sets (`<service>.nodeOptions`) unless
 * BENCH_NODE_OPTIONS replaces them. The goal is at most 100 MiB under load.
 * BENCH_MEMORY_SECONDS (default 10) sets each load's length.
 */
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { freePort, sleep, startProcess, waitUntilReady, type ManagedProcess } from "../test/env/processes.js";
import { provisionRedis } from "../test/env/provision/redis-binary.js";
import { TestIssuer } from "../test/support/authz-client.js";
import { benchInput, cores, ISSUER, routeOf, Worker } from "./authz-stack.js";
import type { Benchmark } from "./benchmark.js";
import { chartNodeOptions, compiledCli } from "./compiled-cli.js";
import { DEFAULT_SKEW_SECONDS } from "../services/authz/dpop.js";
import { httpOk, LIMIT_NAME, LoadGenerator, objects, OTHER_CORE, pinned, SERVER_CORE } from "./ratelimit-service.js";

const here = dirname(fileURLToPath(import.meta.url));
const RESULTS_FILE = join(here, "results", "service-memory.json");
const LOAD_MS = Number(process.env.BENCH_MEMORY_SECONDS ?? "10") * 1000;
const GOAL_MIB = 100;

interface Phase {
  phase: string;
  peakMiB: number;
  endMiB: number;
  /** At the end of the phase: RSS of anonymous memory (heaps, buffers) and of mapped files (the node binary's pages). */
  endAnonMiB: number;
  endFileMiB: number;
  /** V8's heap at the end of the phase, from the service's own /metrics: committed and used. */
  heapTotalMiB: number;
  heapUsedMiB: number;
  requestsPerSecond: number;
}

interface ServiceMemory {
  service: "ratelimit" | "authz";
  idleMiB: number;
  phases: Phase[];
  /** The largest RSS seen from start to the end of the load (VmHWM). */
  highWaterMiB: number;
}

function status(pid: number, field: "VmRSS" | "VmHWM" | "RssAnon" | "RssFile"): number {
  const kb = new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  return Math.round(Number(kb ?? 0) / 1024);
}

/** V8's committed and used heap as the service reports them on /metrics (prom-client's default metrics). */
async function heapOf(metricsPort: number): Promise<{ heapTotalMiB: number; heapUsedMiB: number }> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const value = (name: string): number => Math.round(Number(new RegExp(`^${name} (\\S+)`, "m").exec(text)?.[1] ?? NaN) / 1048576);
  return { heapTotalMiB: value("nodejs_heap_size_total_bytes"), heapUsedMiB: value("nodejs_heap_size_used_bytes") };
}

/** Runs `load` while sampling the RSS of `service` every 100 ms. */
async function sampled(service: RunningService, phase: string, load: () => Promise<number>): Promise<Phase> {
  const { pid } = service.process;
  let peak = 0;
  const timer = setInterval(() => (peak = Math.max(peak, status(pid, "VmRSS"))), 100);
  try {
    const requestsPerSecond = await load();
    const endMiB = status(pid, "VmRSS");
    const split = { endAnonMiB: status(pid, "RssAnon"), endFileMiB: status(pid, "RssFile") };
    return { phase, peakMiB: Math.max(peak, endMiB), endMiB, ...split, ...(await heapOf(service.httpPort)), requestsPerSecond };
  } finally {
    clearInterval(timer);
  }
}

interface RunningService {
  process: ManagedProcess;
  httpPort: number;
}

async function startService(name: "authz" | "ratelimit", dir: string, args: string[], httpPort: number): Promise<RunningService> {
  const s = pinned(SERVER_CORE, process.execPath, [await compiledCli(), ...args, "--http-address", `127.0.0.1:${httpPort}`, "--log-level", "warn"]);
  const env = { ...process.env, NODE_OPTIONS: chartNodeOptions(name) };
  const p = startProcess({ name: `bulwark ${name}`, ...s, env, logFile: join(dir, `${name}.log`) });
  await waitUntilReady(p, () => httpOk(httpPort, "/readyz"), 60_000);
  return { process: p, httpPort };
}

async function ratelimitMemory(dir: string, redisPort: number): Promise<ServiceMemory> {
  await mkdir(join(dir, "ratelimit"));
  const input = objects({ sidecar: 15006, app: 8080 });
  await writeFile(join(dir, "ratelimit", "objects.yaml"), [...input.policies, ...input.services, ...input.pods].map((o) => stringify(o)).join("---\n"));
  const grpcPort = await freePort();
  const server = await startService(
    "ratelimit",
    dir,
    ["ratelimit", "-f", join(dir, "ratelimit"), "--grpc-address", `127.0.0.1:${grpcPort}`, "--redis-url", `redis://127.0.0.1:${redisPort}`],
    await freePort(),
  );
  const load = await LoadGenerator.start();
  try {
    await sleep(3000);
    const idleMiB = status(server.process.pid, "VmRSS");
    const phases: Phase[] = [];
    for (const rate of [1000, 0]) {
      const phase = rate === 0 ? "max (64 in flight)" : `${rate}/s`;
      phases.push(
        await sampled(server, phase, async () => {
          const r = await load.run({ target: "grpc-raw", port: grpcPort, rate, inFlight: 64, keys: 10_000, durationMs: LOAD_MS, warmupMs: 0, limitName: LIMIT_NAME, path: "" });
          if (r.failed > 0) throw new Error(`ratelimit under load: ${r.failed} failed (${r.failures.slice(0, 3).join("; ")})`);
          return Math.round(r.answered / r.seconds);
        }),
      );
    }
    return { service: "ratelimit", idleMiB, phases, highWaterMiB: status(server.process.pid, "VmHWM") };
  } finally {
    load.stop();
    await server.process.stop();
  }
}

async function authzMemory(dir: string, redisPort: number): Promise<ServiceMemory> {
  await mkdir(join(dir, "authz"));
  const idp = await TestIssuer.create(ISSUER);
  const input = benchInput({ jwks: idp.jwks });
  await writeFile(join(dir, "authz", "objects.yaml"), [...input.policies, ...input.services, ...input.pods, ...input.secrets].map((o) => stringify(o)).join("---\n"));
  const port = await freePort();
  const server = await startService(
    "authz",
    dir,
    ["authz", "-f", join(dir, "authz"), "--address", `127.0.0.1:${port}`, "--redis-url", `redis://127.0.0.1:${redisPort}`],
    await freePort(),
  );
  const load = new Worker("authz-load-grpc", { cpu: cores().load });
  try {
    await sleep(3000);
    const idleMiB = status(server.process.pid, "VmRSS");
    // The replay store refuses proofs issued within the clock skew of when it began remembering.
    await sleep((DEFAULT_SKEW_SECONDS + 1) * 1000);
    // Fresh proofs for the whole load at up to 12,000 calls per second, signed before the timer starts.
    await load.ask({ kind: "grpc-prepare", route: routeOf("authz-jwt-dpop"), proofs: Math.ceil((LOAD_MS / 1000) * 12_000) }, "prepared");
    const phase = await sampled(server, "max (64 in flight)", async () => {
      const done = await load.ask({ kind: "grpc-load", port, durationMs: LOAD_MS, warmupCalls: 0, inFlight: 64 }, "grpc-done");
      if (done.errors > 0 || done.refused > 0) throw new Error(`authz under load: ${done.errors} errors, ${done.refused} refusals (${done.firstProblem})`);
      return Math.round(done.calls / done.seconds);
    });
    return { service: "authz", idleMiB, phases: [phase], highWaterMiB: status(server.process.pid, "VmHWM") };
  } finally {
    await load.stop();
    await server.process.stop();
  }
}

export const serviceMemory: Benchmark = {
  name: "service-memory",
  async run(): Promise<void> {
    const { redisServer } = await provisionRedis();
    const dir = await mkdtemp(join(tmpdir(), "bulwark-bench-memory-"));
    const redisPort = await freePort();
    const r = pinned(OTHER_CORE, redisServer, ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir]);
    const redis = startProcess({ name: "redis-server", ...r, logFile: join(dir, "redis.log") });
    try {
      await sleep(300);
      const results = [await ratelimitMemory(dir, redisPort), await authzMemory(dir, redisPort)];
      const flags = { ratelimit: chartNodeOptions("ratelimit"), authz: chartNodeOptions("authz") };
      console.log(
        `RSS of the compiled services (node dist/cli/main.js, files, Redis), NODE_OPTIONS ratelimit "${flags.ratelimit}", authz "${flags.authz}"; goal at most ${GOAL_MIB} MiB under load; Node ${process.version}`,
      );
      for (const s of results) {
        const phases = s.phases
          .map(
            (p) =>
              `${p.phase} ${p.requestsPerSecond}/s: peak ${p.peakMiB} MiB, end ${p.endMiB} MiB (anon ${p.endAnonMiB}, files ${p.endFileMiB}; V8 heap ${p.heapUsedMiB} used of ${p.heapTotalMiB})`,
          )
          .join("; ");
        console.log(`  ${s.service.padEnd(10)} idle ${s.idleMiB} MiB; ${phases}; high water ${s.highWaterMiB} MiB${s.highWaterMiB > GOAL_MIB ? "  (over the goal)" : ""}`);
      }
      const conditions = {
        cpu: cpus()[0]?.model,
        cores: cpus().length,
        node: process.version,
        nodeOptions: flags,
        loadAverageAtEnd: loadavg().map((x) => Number(x.toFixed(2))),
        loadSeconds: LOAD_MS / 1000,
      };
      await mkdir(dirname(RESULTS_FILE), { recursive: true });
      await writeFile(RESULTS_FILE, `${JSON.stringify({ conditions, goalMiB: GOAL_MIB, results }, null, 2)}\n`);
    } finally {
      await redis.stop();
    }
  },
};
