/**
 * Benchmark: what the telemetry stream costs (#15).
 *
 * (1) Receiver throughput: `bulwark telemetry` (the compiled CLI under plain node, as deployed) fed
 *     by a load generator in this process that speaks the real protocol, AccessLogService/
 *     StreamAccessLogs over HTTP/2, with StreamAccessLogsMessage batches of about 16 KiB (what a
 *     sidecar's buffer flushes) of realistic entries: varied paths, statuses, subjects with a JWT
 *     payload of about 300 bytes, devices, app versions, platforms, addresses. Four streams at once
 *     (four sidecars), as fast as HTTP/2 flow control lets them. Reported: entries received per
 *     CPU-second of the receiver (its /proc user + system time), and per wall second.
 * (2) Envoy's cost: two real Envoy sidecars (--concurrency 1) rendered from the same policy, one
 *     with spec.telemetry streaming to the receiver and one without, driven in interleaved rounds
 *     at the same fixed rate (keep-alive HTTP/1.1, open loop, a mix of allowed requests and
 *     default-deny 404s). Reported: each Envoy's CPU per 1,000 requests/s (millicores), the
 *     difference, the receiver's CPU for the same entries, and the latency percentiles of both.
 *
 * The machine is shared (2 cores); the load average at start and end is recorded. Runs only when
 * named: `npm run bench -- telemetry`. BENCH_TELEMETRY_QUICK=1: short phases, no results file.
 */
import { connect, type ClientHttp2Session } from "node:http2";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { Agent, createServer, request, type Server } from "node:http";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { standaloneBootstrap } from "../envoy/bootstrap/standalone-bootstrap.js";
import { render, defaultSettings } from "../operator/translate/render.js";
import type { TranslationInput } from "../operator/resolve/objects.js";
import { policy, service, sidecarPod } from "../operator/testdata/objects.js";
import { frameMessage } from "../services/grpc/framing.js";
import { freePort, sleep, startProcess, waitUntilReady, type ManagedProcess } from "../test/env/processes.js";
import { provisionEnvoy } from "../test/env/provision/envoy-binary.js";
import { accessLogMessage, sampleEntry } from "../test/support/telemetry-messages.js";
import type { Benchmark } from "./benchmark.js";
import { compiledCli } from "./compiled-cli.js";
import { cpuSecondsOf } from "./process-stats.js";
import { percentiles, type Percentiles } from "./stats.js";
import { openAccessLogCall } from "../test/support/telemetry-stream-client.js";

const quick = process.env.BENCH_TELEMETRY_QUICK === "1";
const RESULTS = join(import.meta.dirname, "results", "telemetry.json");
const RECEIVER_SECONDS = quick ? 3 : 10;
const STREAMS = 4;
const RATE = 1000;
const ROUND_SECONDS = quick ? 3 : 8;
const ROUNDS = quick ? 1 : 3;
const WORKLOAD = "bulwark-telemetry/apisecuritypolicy/shop/shop-api/ports/15006-8080";

function load1m(): number {
  return Math.round((loadavg()[0] ?? 0) * 100) / 100;
}

export async function httpOk(port: number, path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, path, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on("error", () => resolve(false));
    req.on("timeout", () => req.destroy());
    req.end();
  });
}

export async function entriesReceived(metricsPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  return Number(/^bulwark_telemetry_entries_total (\d+)/m.exec(text)?.[1] ?? Number.NaN);
}

export interface Receiver {
  proc: ManagedProcess;
  grpcPort: number;
  metricsPort: number;
}

/** `bulwark telemetry` as shipped (no --cluster); `args` adds flags (e.g. --redis-url), `nodeArgs` node's (e.g. --cpu-prof). */
export async function startReceiver(dir: string, options: { args?: string[]; nodeArgs?: string[] } = {}): Promise<Receiver> {
  const cli = await compiledCli();
  const grpcPort = await freePort();
  const metricsPort = await freePort();
  const proc = startProcess({
    name: "bulwark telemetry",
    command: process.execPath,
    args: [
      ...(options.nodeArgs ?? []),
      cli,
      "telemetry",
      "--listen",
      `127.0.0.1:${grpcPort}`,
      "--metrics",
      `127.0.0.1:${metricsPort}`,
      "--log-level",
      "warn",
      ...(options.args ?? []),
    ],
    logFile: join(dir, "telemetry.log"),
  });
  await waitUntilReady(proc, () => httpOk(metricsPort, "/readyz"), 30_000);
  return { proc, grpcPort, metricsPort };
}

/** Realistic entries, a few hundred distinct ones, in messages of about 16 KiB as a sidecar flushes them. */
function realisticBatches(): { first: Uint8Array; rest: Uint8Array[]; entriesPerMessage: number } {
  const platforms = ["ios", "android"];
  const routes = ["orders", "catalog", "login", "payments", "profile"];
  const entries = Array.from({ length: 400 }, (_, i) => {
    const route = routes[i % routes.length] ?? "orders";
    const anonymous = i % 7 === 0;
    return sampleEntry({
      route: `apisecuritypolicy/shop/shop-api/rule/${route}`,
      method: i % 5 === 0 ? "POST" : "GET",
      path: `/v1/${route}/${100_000 + i * 37}?page=${i % 3}`,
      status: [200, 200, 200, 201, 401, 403, 404, 429][i % 8],
      details: i % 8 >= 4 ? "jwt_authn_access_denied{Jwt_verification_fails}" : "via_upstream",
      ...(anonymous
        ? {}
        : {
            subject: `user-${(i * 7919) % 100_000}`,
            claims: { iss: "https://id.example.com/", aud: "shop-api", scope: "orders:read orders:write profile", azp: "shop-ios", jti: `${i}-a8f0c2e4b6d8` },
          }),
      device: `device-${(i * 104_729) % 50_000}`,
      appVersion: `4.${i % 5}.${i % 11}`,
      platform: platforms[i % 2] ?? "ios",
      clientAddress: `198.51.${i % 256}.${(i * 13) % 256}`,
      startMs: Date.now(),
      latencyMs: 1 + (i % 50) / 7,
    });
  });
  const one = accessLogMessage({ entries: entries.slice(0, 1) }).length;
  const perMessage = Math.max(1, Math.floor((16 * 1024) / one));
  const rest: Uint8Array[] = [];
  for (let i = 0; i + perMessage <= entries.length; i += perMessage) rest.push(accessLogMessage({ entries: entries.slice(i, i + perMessage) }));
  return { first: accessLogMessage({ logName: WORKLOAD, node: "bench-0.shop", entries: entries.slice(0, perMessage) }), rest, entriesPerMessage: perMessage };
}

/** Encoded StreamAccessLogsMessages: `first` (with the identifier) opens each stream, then `rest` in a loop. */
export interface Batches {
  first: Uint8Array;
  rest: Uint8Array[];
  entriesPerMessage: number;
}

/**
 * Streams `batches` over `STREAMS` calls as fast as flow control allows until `untilMs` (over TLS
 * when `tls` is given, as sidecars do with --cluster); resolves with the messages sent. `partition`: stream s sends messages s, s + STREAMS, ... (each entry once
 * per pass, as sidecars of one workload would) instead of every stream sending them all.
 */
export async function flood(port: number, batches: Batches, untilMs: number, partition = false, tls?: { caPem: string; serverName: string }): Promise<number> {
  const session: ClientHttp2Session = tls ? connect(`https://127.0.0.1:${port}`, { ca: tls.caPem, servername: tls.serverName }) : connect(`http://127.0.0.1:${port}`);
  session.on("error", () => undefined);
  const frames = batches.rest.map((m) => frameMessage(m));
  let sent = 0;
  await Promise.all(
    Array.from({ length: STREAMS }, async (_, s) => {
      const call = openAccessLogCall(session);
      call.write(frameMessage(batches.first));
      sent++;
      let i = s;
      while (Date.now() < untilMs) {
        const frame = frames[i % frames.length] as Buffer;
        i += partition ? STREAMS : 1;
        sent++;
        if (!call.write(frame)) await new Promise((resolve) => call.once("drain", resolve));
      }
      await new Promise<void>((resolve) => {
        call.on("close", () => resolve());
        call.end();
      });
    }),
  );
  session.close();
  return sent;
}

interface ReceiverResult {
  seconds: number;
  entries: number;
  receiverCpuSeconds: number;
  entriesPerCpuSecond: number;
  entriesPerWallSecond: number;
  entriesPerMessage: number;
}

async function measureReceiver(receiver: Receiver): Promise<ReceiverResult> {
  const batches = realisticBatches();
  // Warm-up: the receiver's JIT and the load generator's.
  await flood(receiver.grpcPort, batches, Date.now() + 1000);
  await sleep(300);
  const entries0 = await entriesReceived(receiver.metricsPort);
  const cpu0 = cpuSecondsOf(receiver.proc.pid);
  const started = Date.now();
  await flood(receiver.grpcPort, batches, started + RECEIVER_SECONDS * 1000);
  // Let the receiver drain what is in flight, then read both counters.
  await sleep(300);
  const seconds = (Date.now() - started) / 1000;
  const entries = (await entriesReceived(receiver.metricsPort)) - entries0;
  const receiverCpuSeconds = cpuSecondsOf(receiver.proc.pid) - cpu0;
  return {
    seconds: Math.round(seconds * 10) / 10,
    entries,
    receiverCpuSeconds: Math.round(receiverCpuSeconds * 100) / 100,
    entriesPerCpuSecond: Math.round(entries / receiverCpuSeconds),
    entriesPerWallSecond: Math.round(entries / seconds),
    entriesPerMessage: batches.entriesPerMessage,
  };
}

// --- Envoy with and without the telemetry logger -------------------------------------------------

async function startApp(): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true,"items":[1,2,3]}');
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as { port: number }).port };
}

async function startSidecar(options: { envoy: string; dir: string; appPort: number; telemetryPort?: number; name: string }): Promise<{ proc: ManagedProcess; port: number }> {
  const port = await freePort();
  const input: TranslationInput = {
    policies: [
      policy({
        name: "shop-api",
        created: "2026-01-01T00:00:00Z",
        spec: {
          targetRefs: [{ kind: "Service", name: "shop-api" }],
          rules: [{ name: "catalog", authentication: "None", match: { pathPrefix: "/v1/catalog" } }],
          telemetry: { deviceHeader: "X-Device-Id" },
        },
      }),
    ],
    services: [service("shop", "shop-api", { app: "shop" })],
    pods: [sidecarPod("shop", `${options.name}-0`, { app: "shop" }, { sidecar: port, app: options.appPort })],
    secrets: [],
    now: new Date().toISOString(),
  };
  const settings = options.telemetryPort === undefined ? defaultSettings : { ...defaultSettings, telemetry: { host: "127.0.0.1", port: options.telemetryPort } };
  const workload = render(input, settings).workloads[0];
  if (!workload) throw new Error("the bench policy was not rendered");
  const adminPort = await freePort();
  const configPath = join(options.dir, `${options.name}.json`);
  const bootstrap = standaloneBootstrap(workload.resources, { nodeId: `${options.name}-0.shop` });
  await writeFile(configPath, JSON.stringify({ ...bootstrap, admin: { address: { socket_address: { address: "127.0.0.1", port_value: adminPort } } } }));
  const proc = startProcess({
    name: options.name,
    command: options.envoy,
    args: ["--config-path", configPath, "--disable-hot-restart", "--log-level", "warn", "--concurrency", "1"],
    logFile: join(options.dir, `${options.name}.log`),
  });
  await waitUntilReady(proc, () => httpOk(adminPort, "/ready"), 30_000);
  return { proc, port };
}

const agent = new Agent({ keepAlive: true, maxSockets: 32 });
const HEADERS = { "x-device-id": "device-1234", "x-app-version": "4.3.1", "x-app-platform": "ios" };

/** One request; its status and latency in milliseconds (as the load generator sees it, on the same busy machine). */
function get(port: number, path: string): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, path, agent, headers: HEADERS }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started }));
    });
    req.on("error", () => resolve({ status: 0, ms: performance.now() - started }));
    req.end();
  });
}

/** Open loop at RATE for `seconds`: a request every millisecond, in ticks of 10. Resolves with the requests answered; their latencies go to `latencies`. */
async function drive(port: number, seconds: number, latencies: number[] = []): Promise<number> {
  const total = RATE * seconds;
  const pending: Promise<{ status: number; ms: number }>[] = [];
  const started = Date.now();
  for (let i = 0; i < total; i += 10) {
    const due = started + (i * 1000) / RATE;
    const wait = due - Date.now();
    if (wait > 0) await sleep(wait);
    for (let j = 0; j < 10; j++) pending.push(get(port, (i + j) % 4 === 3 ? `/v1/unknown/${i + j}` : `/v1/catalog/items/${i + j}?page=2`));
  }
  const replies = await Promise.all(pending);
  for (const r of replies) latencies.push(r.ms);
  return replies.filter((r) => r.status === 200 || r.status === 404).length;
}

interface EnvoyResult {
  withTelemetry: { millicoresPer1000Rps: number; requests: number; perRound: number[]; latencyMs: Percentiles; p99PerRoundMs: number[] };
  withoutTelemetry: { millicoresPer1000Rps: number; requests: number; perRound: number[]; latencyMs: Percentiles; p99PerRoundMs: number[] };
  addedMillicoresPer1000Rps: number;
  receiverMillicoresPer1000Rps: number;
  entriesReceived: number;
}

async function measureEnvoy(envoy: string, dir: string, receiver: Receiver): Promise<EnvoyResult> {
  const app = await startApp();
  const withT = await startSidecar({ envoy, dir, appPort: app.port, telemetryPort: receiver.grpcPort, name: "with-telemetry" });
  const without = await startSidecar({ envoy, dir, appPort: app.port, name: "without-telemetry" });
  const cpu = { with: 0, without: 0, receiver: 0 };
  const perRound = { with: [] as number[], without: [] as number[] };
  const latencies = { with: [] as number[], without: [] as number[] };
  const p99s = { with: [] as number[], without: [] as number[] };
  const answered = { with: 0, without: 0 };
  try {
    await drive(withT.port, 1);
    await drive(without.port, 1);
    await sleep(1500);
    const entriesStart = await entriesReceived(receiver.metricsPort);
    for (let round = 0; round < ROUNDS; round++) {
      // A B then B A: background noise spreads over both.
      const order = round % 2 === 0 ? (["with", "without"] as const) : (["without", "with"] as const);
      for (const which of order) {
        const sidecar = which === "with" ? withT : without;
        const c0 = cpuSecondsOf(sidecar.proc.pid);
        const r0 = cpuSecondsOf(receiver.proc.pid);
        const round: number[] = [];
        const done = await drive(sidecar.port, ROUND_SECONDS, round);
        latencies[which].push(...round);
        p99s[which].push(percentiles(round).p99);
        answered[which] += done;
        // The logger flushes within a second: wait for it, inside the measured window.
        await sleep(1200);
        const used = cpuSecondsOf(sidecar.proc.pid) - c0;
        cpu[which] += used;
        perRound[which].push(Math.round((used / done) * RATE * 1000));
        if (which === "with") cpu.receiver += cpuSecondsOf(receiver.proc.pid) - r0;
      }
    }
    const entries = (await entriesReceived(receiver.metricsPort)) - entriesStart;
    // CPU-seconds per request x 1,000 requests per second = cores at 1,000 rps; x 1,000 = millicores.
    const millicores = (cpuSeconds: number, requests: number): number => Math.round((cpuSeconds / requests) * RATE * 1000);
    const w = millicores(cpu.with, answered.with);
    const wo = millicores(cpu.without, answered.without);
    return {
      withTelemetry: { millicoresPer1000Rps: w, requests: answered.with, perRound: perRound.with, latencyMs: percentiles(latencies.with), p99PerRoundMs: p99s.with },
      withoutTelemetry: {
        millicoresPer1000Rps: wo,
        requests: answered.without,
        perRound: perRound.without,
        latencyMs: percentiles(latencies.without),
        p99PerRoundMs: p99s.without,
      },
      addedMillicoresPer1000Rps: w - wo,
      receiverMillicoresPer1000Rps: millicores(cpu.receiver, answered.with),
      entriesReceived: entries,
    };
  } finally {
    await withT.proc.stop();
    await without.proc.stop();
    await new Promise((resolve) => app.server.close(resolve));
  }
}

export const telemetryBench: Benchmark = {
  name: "telemetry",
  explicitOnly: true,
  async run(): Promise<void> {
    const { envoy } = await provisionEnvoy();
    const dir = await mkdtemp(join(tmpdir(), "bulwark-bench-telemetry-"));
    const loadAtStart = load1m();
    const receiver = await startReceiver(dir);
    try {
      const throughput = await measureReceiver(receiver);
      console.log(
        `receiver: ${throughput.entries} entries in ${throughput.seconds} s over ${STREAMS} streams (${throughput.entriesPerMessage} entries per message): ` +
          `${throughput.entriesPerCpuSecond} entries per CPU-second of the receiver (${throughput.receiverCpuSeconds} CPU-s), ${throughput.entriesPerWallSecond} per wall second`,
      );
      const envoyCost = await measureEnvoy(envoy, dir, receiver);
      console.log(
        `Envoy (--concurrency 1) at ${RATE} rps, ${ROUNDS} interleaved rounds of ${ROUND_SECONDS} s: ` +
          `${envoyCost.withTelemetry.millicoresPer1000Rps} millicores with telemetry, ${envoyCost.withoutTelemetry.millicoresPer1000Rps} without ` +
          `(+${envoyCost.addedMillicoresPer1000Rps}; per round ${envoyCost.withTelemetry.perRound.join("/")} vs ${envoyCost.withoutTelemetry.perRound.join("/")}); receiver ${envoyCost.receiverMillicoresPer1000Rps} millicores for the same entries (${envoyCost.entriesReceived} received of ${envoyCost.withTelemetry.requests} requests)`,
      );
      const lat = (p: Percentiles): string => `p50 ${p.p50} ms, p99 ${p.p99} ms`;
      console.log(
        `latency seen by the load generator: ${lat(envoyCost.withTelemetry.latencyMs)} with telemetry (p99 per round ${envoyCost.withTelemetry.p99PerRoundMs.join("/")}); ` +
          `${lat(envoyCost.withoutTelemetry.latencyMs)} without (${envoyCost.withoutTelemetry.p99PerRoundMs.join("/")})`,
      );
      const meta = { node: process.version, cores: cpus().length, cpu: cpus()[0]?.model, loadAverage1mAtStart: loadAtStart, loadAverage1m: load1m(), quick };
      console.log(`load average (1 min): ${meta.loadAverage1mAtStart} at start, ${meta.loadAverage1m} at the end, on ${meta.cores} cores (shared with other work)`);
      if (!quick) {
        await mkdir(join(import.meta.dirname, "results"), { recursive: true });
        await writeFile(RESULTS, `${JSON.stringify({ receiver: throughput, envoy: envoyCost, meta }, null, 2)}\n`);
      }
    } finally {
      await receiver.proc.stop();
    }
  },
};
