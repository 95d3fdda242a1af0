/**
 * Benchmark: `bulwark telemetry` as shipped, analysis included (#15 goal: at least 20,000 entries
 * per second per core in the receiver). bench/telemetry.ts measured the receiver before every
 * entry also fed the API inventory and the signal detectors; this measures the whole process.
 *
 * The compiled CLI under plain node, without --cluster (every detector at its defaults, no
 * login/payment purposes known) and with --redis-url to a local redis-server (the analysis is
 * saved there every report interval, 10 s, as deployed). Fed over the real protocol (HTTP/2
 * StreamAccessLogs, four streams, messages of about 16 KiB) with a realistic trace
 * (test/support/traffic-trace.ts: users with devices, app versions, platforms, home countries,
 * carrier NAT, logins with typos, browsing of 200,000 products, orders, payments), each entry sent
 * once (the streams share the messages). Each round sends passes over the trace, each pass
 * encoded (before the round, not measured) with its times moved on by the trace's duration, so
 * time only goes forward and no user looks like a scraper by being replayed. Rounds are measured
 * one by one: entries per CPU-second of the receiver (its /proc user + system), its RSS, the load
 * average. The same receiver over TLS (with --tls-cert/--tls-key, as sidecars stream to it with
 * --cluster) runs beside it, its rounds interleaved with the plaintext ones.
 *
 * Runs only when named: `npm run bench -- telemetry-shipped`. BENCH_TELEMETRY_PROFILE=1 runs the
 * receiver under --cpu-prof and prints (and saves) where its time goes.
 */
import { mkdir, mkdtemp, readdir, writeFile } from "node:fs/promises";
import { generateServingMaterial } from "../operator/identity/serving-certificate.js";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import type { TelemetryEntry } from "../contract/telemetry.js";
import { dbipCountryOf } from "../services/telemetry/signals/country.js";
import { sleep } from "../test/env/processes.js";
import { provisionRedis } from "../test/env/provision/redis-binary.js";
import { startRedis } from "../test/env/redis.js";
import { accessLogMessage, sampleEntry } from "../test/support/telemetry-messages.js";
import { generateTrace, TRACE_WORKLOAD } from "../test/support/traffic-trace.js";
import type { Benchmark } from "./benchmark.js";
import { hotFunctions, type ProfileSummary } from "./cpu-profile.js";
import { cpuSecondsOf, rssMiBOf } from "./process-stats.js";
import { entriesReceived, flood, startReceiver, type Batches, type Receiver } from "./telemetry.js";

const profile = process.env.BENCH_TELEMETRY_PROFILE === "1";
const ROUNDS = 5;
const ROUND_SECONDS = 8;
const USERS = 2000;
const TRACE_MS = 30 * 60_000;
/** Passes over the trace per round: more than a round can send (about 90,000 entries a pass). */
const PASSES_PER_ROUND = 5;

/** The name the TLS receiver's certificate carries and the load generator checks. */
const TLS_NAME = "bulwark-telemetry.bench.svc";

const load1m = (): number => Math.round((loadavg()[0] ?? 0) * 100) / 100;

/** The trace's entries as a sidecar's logger encodes them, in messages of about 16 KiB; `shiftMs` moves their times. */
export function traceBatches(entries: readonly TelemetryEntry[], logName: string, shiftMs = 0): Batches {
  const objects = entries.map((e) =>
    sampleEntry({
      route: e.route,
      method: e.method,
      path: e.path,
      status: e.status,
      details: e.reason?.startsWith("jwt_authn") ? e.reason : "via_upstream",
      ...(e.reason && !e.reason.startsWith("jwt_authn") ? { reason: e.reason } : {}),
      // A verified token's payload, about 300 bytes, as the jwt_authn filter records it.
      ...(e.subject !== undefined
        ? {
            subject: e.subject,
            claims: { iss: "https://id.example.com/", aud: "shop-api", scope: "orders:read orders:write profile", azp: `shop-${e.platform ?? "ios"}`, jti: e.timeMs.toString(36) },
          }
        : {}),
      ...(e.device !== undefined ? { device: e.device } : {}),
      ...(e.appVersion !== undefined ? { appVersion: e.appVersion } : {}),
      ...(e.platform !== undefined ? { platform: e.platform } : {}),
      clientAddress: e.clientAddress,
      startMs: e.timeMs + shiftMs,
      latencyMs: e.latencyMs,
    }),
  );
  const perMessage = Math.max(1, Math.floor((16 * 1024) / accessLogMessage({ entries: objects.slice(0, 1) }).length));
  const rest: Uint8Array[] = [];
  for (let i = 0; i < objects.length; i += perMessage) rest.push(accessLogMessage({ entries: objects.slice(i, i + perMessage) }));
  // The identifier-bearing first message carries no entries: every entry is sent once per pass.
  return { first: accessLogMessage({ logName, node: "bench-0.shop", entries: [] }), rest, entriesPerMessage: perMessage };
}

interface Round {
  entries: number;
  cpuSeconds: number;
  entriesPerCpuSecond: number;
  entriesPerWallSecond: number;
  rssMiB: number;
  loadAverage1m: number;
}

/** One round: `batches` streamed for ROUND_SECONDS, the receiver's entries, CPU and RSS over it. */
async function measureRound(receiver: Receiver, batches: Batches, tls?: { caPem: string; serverName: string }): Promise<Round> {
  await sleep(300);
  const e0 = await entriesReceived(receiver.metricsPort);
  const c0 = cpuSecondsOf(receiver.proc.pid);
  const t0 = Date.now();
  await flood(receiver.grpcPort, batches, t0 + ROUND_SECONDS * 1000, true, tls);
  await sleep(300); // what is in flight
  const entries = (await entriesReceived(receiver.metricsPort)) - e0;
  const cpuSeconds = cpuSecondsOf(receiver.proc.pid) - c0;
  return {
    entries,
    cpuSeconds: Math.round(cpuSeconds * 100) / 100,
    entriesPerCpuSecond: Math.round(entries / cpuSeconds),
    entriesPerWallSecond: Math.round(entries / ((Date.now() - t0) / 1000)),
    rssMiB: rssMiBOf(receiver.proc.pid),
    loadAverage1m: load1m(),
  };
}

async function latestProfile(dir: string): Promise<string | undefined> {
  const file = (await readdir(dir))
    .filter((f) => f.endsWith(".cpuprofile"))
    .sort()
    .at(-1);
  return file ? join(dir, file) : undefined;
}

export const telemetryShipped: Benchmark = {
  name: "telemetry-shipped",
  explicitOnly: true,
  async run(): Promise<void> {
    const dir = await mkdtemp(join(tmpdir(), "bulwark-bench-telemetry-shipped-"));
    const loadAtStart = load1m();
    const started = Date.now();
    const trace = generateTrace({ seed: 15, users: USERS, durationMs: TRACE_MS, countryOf: dbipCountryOf() });
    const logName = `bulwark-telemetry/${TRACE_WORKLOAD}`;
    let pass = 0;
    /** The next `passes` passes over the trace, each later by the trace's duration. */
    const nextPasses = (passes: number): Batches => {
      const parts = Array.from({ length: passes }, () => traceBatches(trace.entries, logName, TRACE_MS * pass++));
      return { first: parts[0]!.first, rest: parts.flatMap((p) => p.rest), entriesPerMessage: parts[0]!.entriesPerMessage };
    };
    const batches = nextPasses(1);
    const users = new Set(trace.entries.map((e) => e.subject ?? e.device));
    console.log(
      `trace: ${trace.entries.length} entries (${users.size} users/devices, ${new Set(trace.entries.map((e) => e.clientAddress)).size} addresses, ${new Set(trace.entries.map((e) => e.path)).size} paths) ` +
        `in ${batches.rest.length} messages of ${batches.entriesPerMessage} entries; made in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    const { redisServer } = await provisionRedis();
    const redis = await startRedis({ dir, redisServer, keepAlive: false });
    const receiver = await startReceiver(dir, { args: ["--redis-url", redis.url], ...(profile ? { nodeArgs: ["--cpu-prof", "--cpu-prof-dir", dir] } : {}) });
    // The same receiver over TLS (as deployed with --cluster, where sidecars stream over TLS): its own analysis, its own passes.
    const material = await generateServingMaterial("bench telemetry CA", [TLS_NAME], new Date());
    await writeFile(join(dir, "tls.crt"), material.certPem);
    await writeFile(join(dir, "tls.key"), material.keyPem);
    const tlsReceiver = await startReceiver(dir, { args: ["--redis-url", redis.url, "--tls-cert", join(dir, "tls.crt"), "--tls-key", join(dir, "tls.key")] });
    const tls = { caPem: material.caPem, serverName: TLS_NAME };
    const rounds: Round[] = [];
    const tlsRounds: Round[] = [];
    let rssIdle = 0;
    let hot: ProfileSummary | undefined;
    try {
      rssIdle = rssMiBOf(receiver.proc.pid);
      await flood(receiver.grpcPort, batches, Date.now() + 2000, true); // warm-up (JIT, tables)
      let tlsPass = 0;
      await flood(tlsReceiver.grpcPort, batches, Date.now() + 2000, true, tls);
      for (let r = 0; r < ROUNDS; r++) {
        // Interleaved: a TLS round (passes of its own, times moving on as for the plaintext receiver) before each plaintext one.
        const tlsBatches = (() => {
          const parts = Array.from({ length: PASSES_PER_ROUND }, () => traceBatches(trace.entries, logName, TRACE_MS * ++tlsPass));
          return { first: parts[0]!.first, rest: parts.flatMap((p) => p.rest), entriesPerMessage: parts[0]!.entriesPerMessage };
        })();
        const tlsRound = await measureRound(tlsReceiver, tlsBatches, tls);
        tlsRounds.push(tlsRound);
        console.log(
          `round ${r + 1} (TLS): ${tlsRound.entries} entries, ${tlsRound.cpuSeconds} CPU-s: ${tlsRound.entriesPerCpuSecond} entries/CPU-s, ${tlsRound.entriesPerWallSecond}/wall-s; RSS ${tlsRound.rssMiB} MiB; load ${tlsRound.loadAverage1m}`,
        );
        const round = await measureRound(receiver, nextPasses(PASSES_PER_ROUND));
        rounds.push(round);
        if (round.entries > PASSES_PER_ROUND * trace.entries.length) console.log("  (this round sent every pass prepared: times repeated at its end)");
        console.log(
          `round ${r + 1}: ${round.entries} entries, ${round.cpuSeconds} CPU-s: ${round.entriesPerCpuSecond} entries/CPU-s, ${round.entriesPerWallSecond}/wall-s; RSS ${round.rssMiB} MiB; load ${round.loadAverage1m}`,
        );
      }
      const metrics = await (await fetch(`http://127.0.0.1:${receiver.metricsPort}/metrics`)).text();
      const tracked = metrics.split("\n").filter((l) => l.startsWith("bulwark_signals_tracked{") || l.startsWith("bulwark_signals_fired_total{"));
      console.log(tracked.join("\n"));
    } finally {
      await receiver.proc.stop();
      await tlsReceiver.proc.stop();
      await redis.process.stop();
    }
    if (profile) {
      const file = await latestProfile(dir);
      if (file) {
        hot = await hotFunctions(file, 25);
        console.log(
          `profile ${file}: ${hot.busyMs} ms busy; by area ${Object.entries(hot.areas)
            .map(([a, p]) => `${a} ${p}%`)
            .join(", ")}`,
        );
        for (const h of hot.hot) console.log(`  ${h.selfPercent.toFixed(1).padStart(5)}%  ${h.function}`);
      }
    }
    const rates = rounds.map((r) => r.entriesPerCpuSecond).sort((a, b) => a - b);
    const summary = { min: rates[0], median: rates[Math.floor(rates.length / 2)], max: rates.at(-1), goal: 20_000 };
    const tlsRates = tlsRounds.map((r) => r.entriesPerCpuSecond).sort((a, b) => a - b);
    const tlsSummary = { min: tlsRates[0], median: tlsRates[Math.floor(tlsRates.length / 2)], max: tlsRates.at(-1), goal: 20_000 };
    console.log(
      `bulwark telemetry over TLS (rounds interleaved with the plaintext ones): entries per CPU-second min ${tlsSummary.min} / median ${tlsSummary.median} / max ${tlsSummary.max}; up to ${Math.max(...tlsRounds.map((r) => r.rssMiB))} MiB RSS`,
    );
    console.log(
      `bulwark telemetry (analysis on, --redis-url, no --cluster): entries per CPU-second min ${summary.min} / median ${summary.median} / max ${summary.max} over ${ROUNDS} rounds of ${ROUND_SECONDS} s (goal ${summary.goal}); ` +
        `RSS ${rssIdle} MiB idle, up to ${Math.max(...rounds.map((r) => r.rssMiB))} MiB`,
    );
    const meta = {
      node: process.version,
      cores: cpus().length,
      cpu: cpus()[0]?.model,
      loadAverage1mAtStart: loadAtStart,
      loadAverage1m: load1m(),
      contended: "2 cores shared with other work (the load generator runs on the same machine)",
      profiled: profile,
    };
    console.log(`load average (1 min): ${meta.loadAverage1mAtStart} at start, ${meta.loadAverage1m} at the end, ${meta.cores} cores, Node ${meta.node} (${meta.contended})`);
    await mkdir(join(import.meta.dirname, "results"), { recursive: true });
    const out = profile ? "telemetry-shipped-profile.json" : "telemetry-shipped.json";
    await writeFile(
      join(import.meta.dirname, "results", out),
      `${JSON.stringify({ entriesPerCpuSecond: summary, rounds, tls: { entriesPerCpuSecond: tlsSummary, rounds: tlsRounds }, rssIdleMiB: rssIdle, trace: { entries: trace.entries.length, users: USERS }, ...(hot ? { profile: hot } : {}), meta }, null, 2)}\n`,
    );
  },
};
