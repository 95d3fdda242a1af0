/**
 * The load generator of the ratelimit-service benchmark, run as its own process (pinned to a core
 * by the benchmark) and driven over Node's IPC channel: each message is a LoadCase, each answer a
 * LoadResult. Open loop at a fixed rate (requests leave on schedule whatever the answers do), or
 * closed loop with a fixed number in flight for the maximum throughput. Latency is measured from
 * the moment a request is handed to the client library to its answer.
 */
import { credentials, makeGenericClientConstructor, type Client, type ServiceError } from "@grpc/grpc-js";
import { Agent, request } from "node:http";
import { connect, type IncomingHttpHeaders } from "node:http2";
import { performance } from "node:perf_hooks";
import { ratelimitServices, type RateLimitRequestMessage, type RateLimitResponseMessage } from "../services/ratelimit/protocol.js";
import { errorMessage } from "../common/errors.js";
import { percentile } from "./stats.js";

export interface LoadCase {
  /** ShouldRateLimit with @grpc/grpc-js or with pre-encoded messages on a bare HTTP/2 connection, or HTTP GET through a sidecar. */
  target: "grpc" | "grpc-raw" | "http";
  port: number;
  /** Requests per second; 0: closed loop with `inFlight` requests outstanding. */
  rate: number;
  inFlight: number;
  keys: number;
  durationMs: number;
  warmupMs: number;
  /** gRPC: the descriptor's limit name. */
  limitName: string;
  /** HTTP: the path. */
  path: string;
}

export interface LoadResult {
  sent: number;
  answered: number;
  /** Answers other than OK / 200, and transport errors. */
  failed: number;
  failures: string[];
  seconds: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  /** CPU seconds the generator itself used. */
  generatorCpuSeconds: number;
}

type RlsClient = Client & { ShouldRateLimit(request: RateLimitRequestMessage, callback: (error: ServiceError | null, response?: RateLimitResponseMessage) => void): void };

type Send = (i: number, done: (ok: boolean, why?: string) => void) => void;

function grpcSender(c: LoadCase): { send: Send; close(): void } {
  const Ctor = makeGenericClientConstructor(ratelimitServices().rateLimit, "RateLimitService");
  const client = new Ctor(`127.0.0.1:${c.port}`, credentials.createInsecure()) as unknown as RlsClient;
  // Requests are built ahead: the generator's own work stays small and constant.
  const requests: RateLimitRequestMessage[] = Array.from({ length: c.keys }, (_, k) => ({
    domain: "bulwark",
    descriptors: [
      {
        entries: [
          { key: "limit", value: c.limitName },
          { key: "header:x-device-id", value: `device-${k}` },
        ],
      },
    ],
  }));
  return {
    send: (i, done) =>
      client.ShouldRateLimit(requests[i % c.keys] as RateLimitRequestMessage, (error, response) =>
        error ? done(false, error.message) : done(response?.overall_code === "OK", response?.overall_code),
      ),
    close: () => client.close(),
  };
}

/**
 * ShouldRateLimit over one HTTP/2 connection with pre-encoded gRPC messages: the same bytes on
 * the wire as a gRPC library sends, for a fraction of its CPU, so that one generator core can
 * load the server's core. An answer is OK when grpc-status is 0 and overall_code (field 1) is OK.
 */
function rawGrpcSender(c: LoadCase): { send: Send; close(): void } {
  const session = connect(`http://127.0.0.1:${c.port}`);
  session.on("error", () => undefined);
  const serialize = ratelimitServices().rateLimit.ShouldRateLimit?.requestSerialize;
  if (!serialize) throw new Error("no ShouldRateLimit");
  const bodies = Array.from({ length: c.keys }, (_, k) => {
    const message = serialize({
      domain: "bulwark",
      descriptors: [
        {
          entries: [
            { key: "limit", value: c.limitName },
            { key: "header:x-device-id", value: `device-${k}` },
          ],
        },
      ],
    } satisfies RateLimitRequestMessage);
    const framed = Buffer.alloc(5 + message.length);
    framed.writeUInt32BE(message.length, 1);
    message.copy(framed, 5);
    return framed;
  });
  const headers = { ":method": "POST", ":path": "/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit", "content-type": "application/grpc", te: "trailers" };
  return {
    send: (i, done) => {
      const stream = session.request(headers);
      const chunks: Buffer[] = [];
      let grpcStatus: string | undefined;
      stream.on("trailers", (trailers: IncomingHttpHeaders) => (grpcStatus = String(trailers["grpc-status"])));
      stream.on("response", (h: IncomingHttpHeaders) => {
        if (h["grpc-status"] !== undefined) grpcStatus = String(h["grpc-status"]);
      });
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
        done(grpcStatus === "0" && body !== undefined && body[5] === 0x08 && body[6] === 1, `grpc-status ${grpcStatus ?? "none"}`);
      });
      stream.on("error", (error: Error) => done(false, error.message));
      stream.end(bodies[i % c.keys]);
    },
    close: () => session.close(),
  };
}

function httpSender(c: LoadCase): { send: Send; close(): void } {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const headers = Array.from({ length: c.keys }, (_, k) => ({ "x-device-id": `device-${k}` }));
  return {
    send: (i, done) => {
      const req = request({ host: "127.0.0.1", port: c.port, path: c.path, agent, headers: headers[i % c.keys] }, (res) => {
        res.resume();
        res.on("end", () => done(res.statusCode === 200, String(res.statusCode)));
      });
      req.on("error", (error) => done(false, error.message));
      req.end();
    },
    close: () => agent.destroy(),
  };
}

/** Runs `send` for `ms`; records latencies only when `record`. */
function phase(c: LoadCase, send: Send, ms: number, record: boolean): Promise<LoadResult> {
  return new Promise((resolve) => {
    const capacity = Math.ceil(((c.rate || 50_000) * ms) / 1000) + 1024;
    let latencies = new Float64Array(capacity);
    let answered = 0;
    let failed = 0;
    let sent = 0;
    let outstanding = 0;
    const failures: string[] = [];
    const started = performance.now();
    const cpu = process.cpuUsage();
    const end = started + ms;
    let stopped = false;
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      const seconds = (performance.now() - started) / 1000;
      const used = process.cpuUsage(cpu);
      const sorted = latencies.subarray(0, answered).sort();
      const r = (x: number): number => Number(x.toFixed(3));
      resolve({
        sent,
        answered,
        failed,
        failures,
        seconds,
        p50Ms: r(percentile(sorted, 0.5, 0)),
        p90Ms: r(percentile(sorted, 0.9, 0)),
        p99Ms: r(percentile(sorted, 0.99, 0)),
        p999Ms: r(percentile(sorted, 0.999, 0)),
        maxMs: r(sorted[sorted.length - 1] ?? 0),
        generatorCpuSeconds: (used.user + used.system) / 1e6,
      });
    };
    const fire = (): void => {
      const t = performance.now();
      const i = sent++;
      outstanding++;
      send(i, (ok, why) => {
        outstanding--;
        if (record) {
          if (answered === latencies.length) {
            const grown = new Float64Array(latencies.length * 2);
            grown.set(latencies);
            latencies = grown;
          }
          latencies[answered] = performance.now() - t;
        }
        answered++;
        if (!ok) {
          failed++;
          if (failures.length < 5) failures.push(why ?? "failed");
        }
        if (c.rate === 0 && !stopped && performance.now() < end) fire();
        else if (stopped && outstanding === 0) finish();
      });
    };
    if (c.rate === 0) {
      for (let k = 0; k < c.inFlight; k++) fire();
      setTimeout(() => {
        stopped = true;
        if (outstanding === 0) finish();
        else setTimeout(finish, 5000);
      }, ms);
      return;
    }
    const interval = 1000 / c.rate;
    let next = started;
    const tick = (): void => {
      const now = performance.now();
      while (next <= now && next < end) {
        fire();
        next += interval;
      }
      if (next < end) setTimeout(tick, Math.max(0, Math.floor(next - performance.now())));
      else {
        stopped = true;
        if (outstanding === 0) finish();
        else setTimeout(finish, 5000);
      }
    };
    tick();
  });
}

export async function runLoad(c: LoadCase): Promise<LoadResult> {
  const sender = c.target === "grpc" ? grpcSender(c) : c.target === "grpc-raw" ? rawGrpcSender(c) : httpSender(c);
  try {
    if (c.warmupMs > 0) await phase(c, sender.send, c.warmupMs, false);
    return await phase(c, sender.send, c.durationMs, true);
  } finally {
    sender.close();
  }
}

if (process.send) {
  process.on("message", (message: LoadCase) => {
    runLoad(message).then(
      (result) => process.send?.({ ok: true, result }),
      (error: unknown) => process.send?.({ ok: false, error: errorMessage(error) }),
    );
  });
  process.send({ ready: true });
}
