import { fork } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { cpus, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { exec } from "../test/env/exec.js";
import { provisionEnvoy } from "../test/env/provision/envoy-binary.js";
import type { Benchmark } from "./benchmark.js";
import type { Scenario, ScenarioMessage, ScenarioResult } from "./xds-push-scenario.js";

/**
 * Push latency from setSnapshot to ACK, server CPU and memory per connected sidecar, and
 * snapshot-update throughput, for 1 to 2,000 sidecars over SotW and delta ADS. Each scenario
 * runs in a fresh server process; sidecars are real Envoys for the small counts and the
 * simulated sidecars of bench/ads-client.ts (one separate process) for the large ones.
 *
 * BENCH_XDS_QUICK=1 runs a reduced set and does not write the results file (for development).
 */

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, "..");
const RESULTS_FILE = join(here, "results", "xds-push.json");
const SCENARIO_TIMEOUT_MS = 150_000;

type Plan = Omit<Scenario, "envoyBinary" | "delta">;

const FULL: Plan[] = [
  { sidecars: 1, client: "envoy", rounds: 50, throughputMs: 3000 },
  { sidecars: 10, client: "envoy", rounds: 30, throughputMs: 3000 },
  { sidecars: 100, client: "ads-client", rounds: 20, throughputMs: 3000 },
  { sidecars: 1000, client: "ads-client", rounds: 10, throughputMs: 4000 },
  { sidecars: 2000, client: "ads-client", rounds: 10, throughputMs: 4000 },
];
const QUICK: Plan[] = [
  { sidecars: 1, client: "envoy", rounds: 5, throughputMs: 1000 },
  { sidecars: 100, client: "ads-client", rounds: 3, throughputMs: 1000 },
];

function runInServerProcess(scenario: Scenario): Promise<ScenarioResult> {
  return new Promise((resolve, reject) => {
    const child = fork(join(here, "xds-push-server.ts"), [], {
      cwd: repoRoot,
      execArgv: ["--import", "tsx"],
      env: { ...process.env, BULWARK_BENCH_SCENARIO: JSON.stringify(scenario) },
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    let settled = false;
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
    };
    const timer = setTimeout(() => {
      child.kill("SIGTERM");
      setTimeout(() => child.kill("SIGKILL"), 5000).unref();
      settle(() => reject(new Error(`scenario ${describe(scenario)} did not finish within ${SCENARIO_TIMEOUT_MS / 1000} s`)));
    }, SCENARIO_TIMEOUT_MS);
    child.on("message", (message: ScenarioMessage) => {
      settle(() => (message.kind === "result" ? resolve(message.result) : reject(new Error(`scenario ${describe(scenario)} failed: ${message.message}`))));
    });
    child.on("exit", (code) => settle(() => reject(new Error(`scenario ${describe(scenario)}: the server process exited with ${code} before reporting`))));
  });
}

function describe(s: Pick<Scenario, "sidecars" | "client" | "delta">): string {
  return `${s.delta ? "delta" : "sotw"} × ${s.sidecars} ${s.client === "envoy" ? "Envoy" : "ADS client"}${s.sidecars === 1 ? "" : "s"}`;
}

const kb = (bytes: number): string => (bytes / 1024).toFixed(1);

function table(results: readonly ScenarioResult[]): string {
  const header = [
    "mode",
    "sidecars",
    "clients",
    "load",
    "push p50 ms",
    "push p99 ms",
    "round p50 ms",
    "updates/s",
    "p99 ms at max",
    "CPU µs/update",
    "connect CPU ms/sidecar",
    "idle CPU µs/s/sidecar",
    "RSS KiB/sidecar",
    "heap KiB/sidecar",
    "server RSS MiB",
  ];
  const rows = results.map((r) => [
    r.scenario.delta ? "delta" : "sotw",
    String(r.scenario.sidecars),
    r.scenario.client,
    r.machineLoad.start.toFixed(1),
    r.pushMs.p50.toFixed(2),
    r.pushMs.p99.toFixed(2),
    r.roundMs.p50.toFixed(1),
    String(r.throughput.updatesPerSecond),
    r.throughput.pushMs.p99.toFixed(1),
    String(r.cpu.pushMicrosPerUpdate),
    r.cpu.connectMsPerSidecar.toFixed(2),
    r.cpu.idleMicrosPerSidecarSecond.toFixed(1),
    kb(r.memory.rssBytesPerSidecar),
    kb(r.memory.heapBytesPerSidecar),
    (r.memory.serverRssBytes / 1024 / 1024).toFixed(0),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]?.length ?? 0)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padStart(widths[i] ?? 0)).join("  ");
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

async function run(): Promise<void> {
  const quick = process.env.BENCH_XDS_QUICK === "1";
  const envoyBinary = (await provisionEnvoy()).envoy;
  const versionOutput = (await exec(envoyBinary, ["--version"], { missingFix: "" })).stdout;
  const envoyVersion = /version: (\S+)/.exec(versionOutput)?.[1] ?? versionOutput.trim();
  const scenarios: Scenario[] = (quick ? QUICK : FULL).flatMap((plan) => [false, true].map((delta) => ({ ...plan, delta, envoyBinary })));
  const results: ScenarioResult[] = [];
  for (const scenario of scenarios) {
    const started = Date.now();
    const result = await runInServerProcess(scenario);
    results.push(result);
    console.log(
      `${describe(scenario)}: push p50 ${result.pushMs.p50} ms, p99 ${result.pushMs.p99} ms; ${result.throughput.updatesPerSecond} updates/s; ${kb(result.memory.rssBytesPerSidecar)} KiB RSS per sidecar (${((Date.now() - started) / 1000).toFixed(1)} s)`,
    );
  }
  console.log(`\n${table(results)}\n`);
  const cpu = cpus();
  const report = {
    benchmark: "xds-push",
    date: new Date().toISOString(),
    machine: { cpus: cpu.length, cpuModel: cpu[0]?.model ?? "unknown", memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, platform: process.platform },
    envoy: envoyVersion,
    conditions: [
      "xDS server (envoy/xds XdsServer) alone in a fresh Node.js process per scenario; CPU and memory figures are that process' (process.cpuUsage, RSS after a full GC).",
      "Sidecars on the same 2-core machine over loopback: real Envoy processes (--concurrency 1) for 1 and 10; for 100-2,000 the simulated sidecars of bench/ads-client.ts (CDS/LDS wildcard, EDS/RDS by name, ACK with version and nonce), all in ONE separate Node.js process, each with its own HTTP/2 connection. They compete with the server for the 2 cores, so latencies include client time.",
      "Each sidecar has its own snapshot: 1 listener (HTTP connection manager, RDS), 1 route configuration with 22 routes, 1 EDS cluster, 1 ClusterLoadAssignment. Each push changes that sidecar's route configuration and endpoints (2 types); latency = setSnapshot to the server receiving the ACK of both.",
      "push p50/p99: every sidecar's snapshot changed once per round, setSnapshot called for all sidecars back to back; round = first setSnapshot to last ACK.",
      "updates/s: closed loop for the throughput phase, each sidecar given its next snapshot as soon as it acknowledged the last; counts setSnapshot calls fully acknowledged.",
      "RSS per sidecar = (server RSS with N sidecars connected and in sync - RSS of the started server without snapshots) / N, i.e. its snapshot plus its connection and stream. Meaningful from 100 sidecars up; for 1 and 10 it is dominated by allocations the server makes once (first HTTP/2 session, buffers).",
      "load = the machine's 1-minute load average when the scenario started: other work on the machine (parallel test suites) inflates latency and lowers throughput.",
    ],
    results,
  };
  if (quick) {
    console.log("(BENCH_XDS_QUICK=1: results file not written)");
    return;
  }
  await mkdir(dirname(RESULTS_FILE), { recursive: true });
  await writeFile(RESULTS_FILE, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`results: ${RESULTS_FILE}`);
}

export const xdsPush: Benchmark = { name: "xds-push", run };
