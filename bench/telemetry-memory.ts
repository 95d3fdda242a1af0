/**
 * Benchmark: `bulwark telemetry`'s memory with 1,000,000 distinct identities (#15: memory stays
 * bounded). The compiled CLI as shipped (analysis on, --redis-url to a local redis-server, no
 * --cluster) is fed over the real protocol (HTTP/2 StreamAccessLogs, four streams) 1,000,000
 * entries, each from a never-seen client address, device and account, within about 20 s of
 * traffic time (every identity inside the detectors' windows: only the tables' caps bound them).
 * Entries cycle through a login, a payment, an object read with a 404 and a replayed-proof 401.
 *
 * Reported: the receiver's RSS and V8 heap (its own /metrics) before, at the peak (sampled every
 * 250 ms), every 200,000 identities (flat once the tables are full: bounded) and after 20 s idle;
 * the bulwark_signals_tracked gauges (each per-identity table is capped at 50,000). Without --cluster no route has the Login or Payment
 * purpose, so CredentialStuffing and CardTesting track nobody here (their bound is unit-tested in
 * services/telemetry/signals/memory-bound.test.ts).
 *
 * Runs only when named: `npm run bench -- telemetry-memory`. BENCH_TELEMETRY_NODE_ARGS gives the
 * receiver's node flags (e.g. --max-old-space-size=256, to see it hold under the chart's 512Mi
 * limit); the results then go to telemetry-memory-<flags>.json.
 */
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { connect } from "node:http2";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { frameMessage } from "../services/grpc/framing.js";
import { sleep } from "../test/env/processes.js";
import { provisionRedis } from "../test/env/provision/redis-binary.js";
import { startRedis } from "../test/env/redis.js";
import { accessLogMessage, sampleEntry } from "../test/support/telemetry-messages.js";
import type { Benchmark } from "./benchmark.js";
import { rssMiBOf } from "./process-stats.js";
import { entriesReceived, startReceiver } from "./telemetry.js";
import { openAccessLogCall } from "../test/support/telemetry-stream-client.js";

const IDENTITIES = 1_000_000;
const PER_MESSAGE = 40;
const STREAMS = 4;
const WORKLOAD = "apisecuritypolicy/shop/shop-api/port/8080";
const RULE = "apisecuritypolicy/shop/shop-api/rule";
const T0 = Date.UTC(2026, 11, 3, 12, 0, 0);

const nodeArgs = (process.env.BENCH_TELEMETRY_NODE_ARGS ?? "").split(" ").filter(Boolean);
const load1m = (): number => Math.round((loadavg()[0] ?? 0) * 100) / 100;

/** Entry i: a stranger (address, device and account all new). */
function stranger(i: number): Record<string, unknown> {
  const kind = i % 4;
  return sampleEntry({
    route: `${RULE}/${["login", "payments", "orders", "cart"][kind]}`,
    method: kind < 2 ? "POST" : "GET",
    path: kind === 0 ? "/v1/login" : kind === 1 ? "/v1/payments" : kind === 2 ? `/v1/users/acct-${i}/orders/${i % 9973}` : "/v1/cart",
    status: kind === 2 ? 404 : kind === 3 ? 401 : 200,
    ...(kind === 3 ? { reason: "dpop_proof_replayed" } : {}),
    ...(kind === 0 ? {} : { subject: `acct-${i}`, claims: { iss: "https://id.example.com/", aud: "shop-api" } }),
    device: `dev-${i}`,
    appVersion: "5.4.1",
    platform: i % 2 ? "ios" : "android",
    // Public addresses (11.0.0.0 to 26.255.255.255), so ImpossibleTravel looks their country up.
    clientAddress: `${11 + (i >>> 16)}.${(i >>> 8) & 255}.${i & 255}.${(i * 7) & 255}`,
    startMs: T0 + Math.floor(i / 50),
    latencyMs: 3,
  });
}

/** Sends the 1,000,000 strangers once, stream s taking messages s, s + STREAMS, ...; encodes as it goes (flow control paces it). */
async function sendStrangers(port: number): Promise<void> {
  const session = connect(`http://127.0.0.1:${port}`);
  session.on("error", () => undefined);
  const messages = Math.ceil(IDENTITIES / PER_MESSAGE);
  await Promise.all(
    Array.from({ length: STREAMS }, async (_, s) => {
      const call = openAccessLogCall(session);
      call.write(frameMessage(accessLogMessage({ logName: `bulwark-telemetry/${WORKLOAD}`, node: `bench-${s}.shop`, entries: [] })));
      for (let m = s; m < messages; m += STREAMS) {
        const entries = [];
        for (let i = m * PER_MESSAGE; i < Math.min(IDENTITIES, (m + 1) * PER_MESSAGE); i++) entries.push(stranger(i));
        if (!call.write(frameMessage(accessLogMessage({ entries })))) await new Promise((resolve) => call.once("drain", resolve));
      }
      await new Promise<void>((resolve) => {
        call.on("close", () => resolve());
        call.end();
      });
    }),
  );
  session.close();
}

async function metricsText(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

const gaugeMiB = (text: string, name: string): number => Math.round(Number(new RegExp(`^${name} (\\S+)`, "m").exec(text)?.[1] ?? Number.NaN) / 2 ** 20);
const heapMiB = (text: string): number => gaugeMiB(text, "nodejs_heap_size_used_bytes");

/** The receiver's memory as it reports it: RSS from /proc, V8's heap used and committed, memory outside the heap (Buffers). */
async function memoryOf(pid: number, metricsPort: number): Promise<{ entries: number; rssMiB: number; heapUsedMiB: number; heapTotalMiB: number; externalMiB: number }> {
  const text = await metricsText(metricsPort);
  return {
    entries: Number(/^bulwark_telemetry_entries_total (\d+)/m.exec(text)?.[1] ?? Number.NaN),
    rssMiB: rssMiBOf(pid),
    heapUsedMiB: heapMiB(text),
    heapTotalMiB: gaugeMiB(text, "nodejs_heap_size_total_bytes"),
    externalMiB: gaugeMiB(text, "nodejs_external_memory_bytes"),
  };
}

export const telemetryMemory: Benchmark = {
  name: "telemetry-memory",
  explicitOnly: true,
  async run(): Promise<void> {
    const dir = await mkdtemp(join(tmpdir(), "bulwark-bench-telemetry-memory-"));
    const loadAtStart = load1m();
    const { redisServer } = await provisionRedis();
    const redis = await startRedis({ dir, redisServer, keepAlive: false });
    const receiver = await startReceiver(dir, { args: ["--redis-url", redis.url], nodeArgs });
    try {
      await sleep(1000);
      const before = { rssMiB: rssMiBOf(receiver.proc.pid), heapMiB: heapMiB(await metricsText(receiver.metricsPort)) };
      let peakRss = before.rssMiB;
      const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssMiBOf(receiver.proc.pid))), 250);
      // Memory each time another 200,000 identities were received: flat once the tables are full.
      const checkpoints: Awaited<ReturnType<typeof memoryOf>>[] = [];
      let polling = false;
      const poller = setInterval(() => {
        if (polling) return;
        polling = true;
        memoryOf(receiver.proc.pid, receiver.metricsPort)
          .then((m) => {
            if (m.entries >= (checkpoints.length + 1) * 200_000) checkpoints.push(m);
          })
          .catch(() => undefined)
          .finally(() => (polling = false));
      }, 500);
      const started = Date.now();
      await sendStrangers(receiver.grpcPort);
      let received = 0;
      for (let tries = 0; tries < 50 && received < IDENTITIES; tries++) {
        received = await entriesReceived(receiver.metricsPort);
        if (received < IDENTITIES) await sleep(200);
      }
      const seconds = (Date.now() - started) / 1000;
      clearInterval(poller);
      const atEnd = { rssMiB: rssMiBOf(receiver.proc.pid), heapMiB: heapMiB(await metricsText(receiver.metricsPort)) };
      await sleep(20_000); // idle: V8's idle-time collections and a report (analysis saved to Redis)
      clearInterval(sampler);
      const text = await metricsText(receiver.metricsPort);
      const after = { rssMiB: rssMiBOf(receiver.proc.pid), heapMiB: heapMiB(text) };
      const tracked = Object.fromEntries([...text.matchAll(/^bulwark_signals_tracked\{kind="(\w+)",table="(\w+)"\} (\d+)/gm)].map((m) => [`${m[1]}/${m[2]}`, Number(m[3])]));
      const finalMemory = await memoryOf(receiver.proc.pid, receiver.metricsPort);
      const cap = 50_000;
      const bounded = Object.values(tracked).every((n) => n <= cap);
      console.log(`${received} entries from ${IDENTITIES} distinct addresses/devices/accounts in ${seconds.toFixed(1)} s`);
      console.log(
        `RSS ${before.rssMiB} MiB before, ${peakRss} MiB at the peak, ${atEnd.rssMiB} MiB at the end, ${after.rssMiB} MiB after 20 s idle; ` +
          `V8 heap used ${before.heapMiB} / ${atEnd.heapMiB} / ${after.heapMiB} MiB`,
      );
      console.log(`bulwark_signals_tracked: ${JSON.stringify(tracked)} (cap ${cap} per table: ${bounded ? "held" : "EXCEEDED"})`);
      for (const c of checkpoints)
        console.log(`  at ${c.entries} entries: RSS ${c.rssMiB} MiB, V8 heap used ${c.heapUsedMiB} MiB of ${c.heapTotalMiB} committed, external ${c.externalMiB} MiB`);
      console.log(
        `  after 20 s idle: RSS ${finalMemory.rssMiB} MiB, V8 heap used ${finalMemory.heapUsedMiB} MiB of ${finalMemory.heapTotalMiB} committed, external ${finalMemory.externalMiB} MiB`,
      );
      const meta = {
        node: process.version,
        cores: cpus().length,
        cpu: cpus()[0]?.model,
        loadAverage1mAtStart: loadAtStart,
        loadAverage1m: load1m(),
        contended: "2 cores shared with other work",
        receiverNodeArgs: nodeArgs,
      };
      console.log(`load average (1 min): ${meta.loadAverage1mAtStart} at start, ${meta.loadAverage1m} at the end, ${meta.cores} cores, Node ${meta.node}`);
      await mkdir(join(import.meta.dirname, "results"), { recursive: true });
      await writeFile(
        join(
          import.meta.dirname,
          "results",
          nodeArgs.length
            ? `telemetry-memory-${nodeArgs
                .join("")
                .replace(/[^a-z0-9]+/gi, "-")
                .replace(/^-|-$/g, "")}.json`
            : "telemetry-memory.json",
        ),
        `${JSON.stringify({ identities: IDENTITIES, received, seconds: Math.round(seconds), rss: { beforeMiB: before.rssMiB, peakMiB: peakRss, endMiB: atEnd.rssMiB, afterIdleMiB: after.rssMiB }, heapUsedMiB: { before: before.heapMiB, end: atEnd.heapMiB, afterIdle: after.heapMiB }, checkpoints, afterIdle: finalMemory, tracked, trackedCap: cap, bounded, meta }, null, 2)}\n`,
      );
      if (!bounded) throw new Error("a detector's table exceeded its cap");
    } finally {
      await receiver.proc.stop();
      await redis.process.stop();
    }
  },
};
