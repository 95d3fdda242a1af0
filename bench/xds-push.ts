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
 * simulated sidecars of bench/ads-wire-client.ts (one separate process) for the large ones.
 *
 * `xds-scale` (run only when named: `npm run bench -- xds-scale`, about 4 minutes on 2 cores)
 * is the same server at 10,000 simulated sidecars: a connect storm (all dial at once), one
 * sidecar's change, and rounds that change every sidecar; results in bench/results/xds-scale.json.
 *
 * BENCH_XDS_QUICK=1 runs a reduced set and does not write the results file (for development).
 */

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, "..");
const SCENARIO_TIMEOUT_MS = 150_000;

type Plan = Omit<Scenario, "envoyBinary" | "delta">;

const FULL: Plan[] = [
  { sidecars: 1, client: "envoy", rounds: 50, throughputMs: 3000 },
  { sidecars: 10, client: "envoy", rounds: 30, throughputMs: 3000 },
  { sidecars: 100, client: "ads-client", rounds: 20, throughputMs: 3000, singlePushes: 50 },
  { sidecars: 1000, client: "ads-client", rounds: 10, throughputMs: 4000, singlePushes: 50 },
  { sidecars: 2000, client: "ads-client", rounds: 10, throughputMs: 4000, singlePushes: 50 },
];
/** 10,000 sidecars dialling 1,000 per 5 ms: the storm after a controller restart. No throughput phase (the rounds are the load). */
const SCALE: Plan[] = [{ sidecars: 10_000, client: "ads-client", rounds: 3, throughputMs: 0, singlePushes: 50, dialBatch: 1000 }];
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
    const timer = setTimeout(
      () => {
        child.kill("SIGTERM");
        setTimeout(() => child.kill("SIGKILL"), 5000).unref();
        settle(() => reject(new Error(`scenario ${describe(scenario)} did not finish within ${SCENARIO_TIMEOUT_MS / 1000} s`)));
      },
      SCENARIO_TIMEOUT_MS + scenario.sidecars * 40,
    );
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
    "one-sidecar p99 ms",
    "connect s",
    "updates/s",
    "p99 ms at max",
    "CPU µs/update",
    "sidecars' CPU µs/update",
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
    r.singlePushMs ? r.singlePushMs.p99.toFixed(2) : "-",
    (r.connectMs / 1000).toFixed(1),
    r.throughput ? String(r.throughput.updatesPerSecond) : "-",
    r.throughput ? r.throughput.pushMs.p99.toFixed(1) : "-",
    String(r.cpu.pushMicrosPerUpdate),
    r.clients.pushMicrosPerUpdate !== undefined ? String(r.clients.pushMicrosPerUpdate) : "-",
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

async function run(plans: readonly Plan[], resultsFile: string, extraConditions: readonly string[] = []): Promise<void> {
  const quick = process.env.BENCH_XDS_QUICK === "1";
  const envoyBinary = (await provisionEnvoy()).envoy;
  const versionOutput = (await exec(envoyBinary, ["--version"], { missingFix: "" })).stdout;
  const envoyVersion = /version: (\S+)/.exec(versionOutput)?.[1] ?? versionOutput.trim();
  const scenarios: Scenario[] = (quick ? QUICK : plans).flatMap((plan) => [false, true].map((delta) => ({ ...plan, delta, envoyBinary })));
  const results: ScenarioResult[] = [];
  for (const scenario of scenarios) {
    const started = Date.now();
    const result = await runInServerProcess(scenario);
    results.push(result);
    const throughput = result.throughput ? `; ${result.throughput.updatesPerSecond} updates/s` : "";
    console.log(
      `${describe(scenario)} (load ${result.machineLoad.start}): push p50 ${result.pushMs.p50} ms, p99 ${result.pushMs.p99} ms${throughput}; connect ${result.connectMs} ms; ${kb(result.memory.rssBytesPerSidecar)} KiB RSS per sidecar (${((Date.now() - started) / 1000).toFixed(1)} s)`,
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
      "Sidecars on the same 2-core machine over loopback: real Envoy processes (--concurrency 1) for 1 and 10; from 100 up the simulated sidecars of bench/ads-wire-client.ts (node:http2 and gRPC framing, protobufjs; CDS/LDS wildcard, EDS/RDS by name, ACK with version and nonce), all in ONE separate Node.js process, each with its own HTTP/2 connection. They compete with the server for the 2 cores, so latencies include client time; clients.pushMicrosPerUpdate is that process's CPU per update in the rounds, beside the server's cpu.pushMicrosPerUpdate.",
      "one-sidecar push (singlePushMs): the snapshot of ONE sidecar changed, the others connected and idle; 50 samples, one at a time.",
      "Each sidecar has its own snapshot: 1 listener (HTTP connection manager, RDS), 1 route configuration with 22 routes, 1 EDS cluster, 1 ClusterLoadAssignment. Each push changes that sidecar's route configuration and endpoints (2 types); latency = setSnapshot to the server receiving the ACK of both.",
      "push p50/p99: every sidecar's snapshot changed once per round, setSnapshot called for all sidecars back to back; round = first setSnapshot to last ACK.",
      "updates/s: closed loop for the throughput phase, each sidecar given its next snapshot as soon as it acknowledged the last; counts setSnapshot calls fully acknowledged.",
      "RSS per sidecar = (server RSS with N sidecars connected and in sync - RSS of the started server without snapshots) / N, i.e. its snapshot plus its connection and stream. Meaningful from 100 sidecars up; for 1 and 10 it is dominated by allocations the server makes once (first HTTP/2 session, buffers).",
      "load = the machine's 1-minute load average when the scenario started: other work on the machine (parallel test suites) inflates latency and lowers throughput.",
      ...extraConditions,
    ],
    results,
  };
  if (quick) {
    console.log("(BENCH_XDS_QUICK=1: results file not written)");
    return;
  }
  await mkdir(dirname(resultsFile), { recursive: true });
  await writeFile(resultsFile, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`results: ${resultsFile}`);
}

export const xdsPush: Benchmark = { name: "xds-push", run: () => run(FULL, join(here, "results", "xds-push.json")) };

/** 10,000 simulated sidecars on one controller (#19 goal 7): part of `npm run bench`, several minutes per mode. */
export const xdsScale: Benchmark = {
  name: "xds-scale",
  run: () =>
    run(SCALE, join(here, "results", "xds-scale.json"), [
      "Scale: connectMs is the connect storm, 10,000 sidecars dialled 1,000 per 5 ms, to the last one acknowledging its whole first snapshot; rounds change every sidecar's snapshot at once (pushMs p99 = a change touching every sidecar); singlePushMs = a change touching one.",
      "memory.rssBytesPerSidecar = (server RSS with every sidecar connected and in sync - RSS of the started server) / sidecars, after a full GC; memory.idleServerRssBytes is that base.",
    ]),
};
