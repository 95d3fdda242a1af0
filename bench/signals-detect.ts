import { mkdir, writeFile } from "node:fs/promises";
import { loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { TelemetryEntry } from "../contract/telemetry.js";
import { resolveTunables, type SignalConfig } from "../services/telemetry/signals/config.js";
import { dbipCountryOf } from "../services/telemetry/signals/country.js";
import { SignalEngine } from "../services/telemetry/signals/engine.js";
import { TRACE_NAMESPACE, TRACE_POLICY, TRACE_ROUTE_PURPOSES, TRACE_WORKLOAD, generateTrace } from "../test/support/traffic-trace.js";
import type { Benchmark } from "./benchmark.js";

/**
 * The abuse-signal detectors' throughput: every detector (ImpossibleTravel with the DB-IP
 * lookup included) fed in batches of 500, as the telemetry receiver feeds them. Two traces:
 * the seeded realistic one (benign traffic with every attack mixed in, replayed 3 times through
 * fresh engines) and a worst case where every entry is a new identity (every table churns).
 * Entries per CPU-second = entries / (user + system CPU seconds of this process while feeding).
 */
const here = dirname(fileURLToPath(import.meta.url));
const RESULTS_FILE = join(here, "results", "signals-detect.json");
const BATCH = 500;

interface Result {
  trace: string;
  entries: number;
  cpuSeconds: number;
  wallSeconds: number;
  entriesPerCpuSecond: number;
  signals: number;
}

function feed(name: string, traces: TelemetryEntry[][], config: SignalConfig, countryOf: (a: string) => string | undefined): Result {
  let signals = 0;
  let entries = 0;
  const cpu = process.cpuUsage();
  const wall = process.hrtime.bigint();
  for (const trace of traces) {
    const engine = new SignalEngine({ configOf: () => config, countryOf });
    for (let i = 0; i < trace.length; i += BATCH) signals += engine.observe(trace.slice(i, i + BATCH)).length;
    entries += trace.length;
  }
  const used = process.cpuUsage(cpu);
  const cpuSeconds = (used.user + used.system) / 1e6;
  const wallSeconds = Number(process.hrtime.bigint() - wall) / 1e9;
  return { trace: name, entries, cpuSeconds, wallSeconds, entriesPerCpuSecond: Math.round(entries / cpuSeconds), signals };
}

function strangers(count: number): TelemetryEntry[] {
  const start = Date.UTC(2026, 11, 3, 9);
  return Array.from({ length: count }, (_, i) => ({
    workload: TRACE_WORKLOAD,
    route: `${TRACE_WORKLOAD}/rule/products`,
    method: "GET",
    path: `/v1/products/${i}`,
    status: i % 10 === 0 ? 404 : 200,
    authenticated: true,
    subject: `acct-${i}`,
    device: `dev-${i}`,
    clientAddress: `${(i % 200) + 11}.${(i >>> 8) & 255}.${i & 255}.${(i >>> 16) & 255}`,
    timeMs: start + i,
    latencyMs: 3,
    requestBytes: 0,
    responseBytes: 100,
  }));
}

export const signalsDetect: Benchmark = {
  name: "signals-detect",
  async run(): Promise<void> {
    const countryOf = dbipCountryOf();
    const config: SignalConfig = {
      workload: TRACE_WORKLOAD,
      policy: { namespace: TRACE_NAMESPACE, name: TRACE_POLICY },
      routePurposes: TRACE_ROUTE_PURPOSES,
      tunables: resolveTunables(),
    };
    const trace = generateTrace({
      seed: 20261203,
      users: 3000,
      durationMs: 30 * 60_000,
      countryOf,
      attacks: ["stuffing", "distributedStuffing", "cardTesting", "enumeration", "scraping", "impossibleTravel", "replayedProof", "attestation"],
    }).entries;
    const load = loadavg();
    const results = [
      feed("realistic (benign + 8 attacks) ×3", [trace, trace, trace], config, countryOf),
      feed("every entry a new identity", [strangers(300_000)], config, countryOf),
    ];
    console.log(`load average before: ${load.map((l) => l.toFixed(2)).join(" ")} (a shared 2-core machine)`);
    for (const r of results) {
      console.log(
        `${r.trace.padEnd(36)} ${r.entries} entries  ${r.cpuSeconds.toFixed(2)} CPU s  ${r.wallSeconds.toFixed(2)} wall s  ${r.entriesPerCpuSecond} entries per CPU-second  ${r.signals} signals`,
      );
    }
    await mkdir(dirname(RESULTS_FILE), { recursive: true });
    await writeFile(RESULTS_FILE, `${JSON.stringify({ loadAverage: load, results }, null, 2)}\n`);
  },
};
