/**
 * A child process of the authz benchmarks (bench/authz-stack.ts): serves Check (bulwark authz
 * as `bulwark authz` runs it), or generates load — closed-loop Check calls over gRPC with
 * pre-serialised requests, or open-loop HTTP requests at a fixed rate through Envoy.
 */
import { credentials, makeGenericClientConstructor, type Client, type ServiceError } from "@grpc/grpc-js";
import { readFile } from "node:fs/promises";
import { Agent, request as httpRequest } from "node:http";
import { monitorEventLoopDelay, performance, PerformanceObserver } from "node:perf_hooks";
import { Redis } from "ioredis";
import { pino } from "pino";
import { buildRouteTable, RouteTableHolder } from "../services/authz/config.js";
import { DpopNonces } from "../services/authz/dpop-nonce.js";
import { KeySets } from "../services/authz/keys.js";
import { MemoryReplayStore, RedisReplayStore, type ReplayStore } from "../services/authz/replay-store.js";
import { AuthzServer } from "../services/authz/service.js";
import { authorizationService } from "../services/authz/authorization-service.js";
import { translate } from "../operator/translate/translate.js";
import { DpopKey, TestIssuer } from "../test/support/authz-client.js";
import { AUDIENCE, checkRequestMessage, HOST, ISSUER, PATH, USER, type WorkerReply, type WorkerRequest } from "./authz-stack.js";
import { percentile } from "./stats.js";

function reply(message: WorkerReply): void {
  process.send?.(message);
}

let server: AuthzServer | undefined;
let replay: ReplayStore | undefined;

/** How late the server's event loop runs (queueing behind work) and its GC pauses, since the last loop-stats. */
let loopDelay: ReturnType<typeof monitorEventLoopDelay> | undefined;
const gcPauses: number[] = [];
/** GC pauses by kind (PerformanceObserver's detail.kind: 1 minor, 2 major, 4 incremental, 8 weak callbacks). */
const gcKinds: Record<string, number> = {};

function watchLoop(): void {
  loopDelay = monitorEventLoopDelay({ resolution: 2 });
  loopDelay.enable();
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gcPauses.push(entry.duration);
      const kind = String((entry as { detail?: { kind?: number } }).detail?.kind ?? "?");
      gcKinds[kind] = (gcKinds[kind] ?? 0) + 1;
    }
  }).observe({ entryTypes: ["gc"] });
}

function loopStats(): Extract<WorkerReply, { kind: "loop-stats" }> {
  const h = loopDelay;
  const us = (ns: number): number => Math.round(ns / 1000);
  const stats: Extract<WorkerReply, { kind: "loop-stats" }> = {
    kind: "loop-stats",
    loopDelay: h && h.count > 0 ? { p50Us: us(h.percentile(50)), p99Us: us(h.percentile(99)), maxUs: us(h.max) } : { p50Us: 0, p99Us: 0, maxUs: 0 },
    gc: {
      count: gcPauses.length,
      pauseMs: Number(gcPauses.reduce((a, b) => a + b, 0).toFixed(1)),
      maxPauseMs: Number(gcPauses.reduce((a, b) => Math.max(a, b), 0).toFixed(1)),
      byKind: { ...gcKinds },
    },
  };
  h?.reset();
  gcPauses.length = 0;
  for (const kind of Object.keys(gcKinds)) delete gcKinds[kind];
  return stats;
}

async function serve(request: Extract<WorkerRequest, { kind: "serve" }>): Promise<void> {
  const tables = new RouteTableHolder();
  tables.swap(buildRouteTable(translate(request.input).ir));
  replay = request.redisUrl
    ? new RedisReplayStore(new Redis(request.redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false }), request.redisPrefix)
    : new MemoryReplayStore(Date.now, { rememberedSince: 0 });
  if (request.redisUrl) await new Promise((resolve) => setTimeout(resolve, 200));
  // A fresh store refuses proofs issued within the clock skew (5 s) of its first connection: measure a warm one.
  const warmAt = replay.rememberedSince() + 5000;
  if (warmAt > Date.now()) await new Promise((resolve) => setTimeout(resolve, Math.min(10_000, warmAt - Date.now() + 1000)));
  server = new AuthzServer({
    host: "127.0.0.1",
    port: 0,
    tables,
    deps: { now: Date.now, replay, nonces: new DpopNonces(), keys: new KeySets().keys },
    log: pino({ level: "silent" }),
  });
  const port = await server.start();
  watchLoop();
  reply({ kind: "serving", port });
}

/** Pre-serialised CheckRequests, one fresh DPoP proof each. */
let prepared: Buffer[] = [];

async function prepareGrpc(request: Extract<WorkerRequest, { kind: "grpc-prepare" }>): Promise<void> {
  const idp = await TestIssuer.create(ISSUER);
  const key = await DpopKey.generate("ES256");
  const token = await idp.sign({ sub: USER, cnf: { jkt: key.jkt } }, { audience: AUDIENCE, lifetimeSeconds: 3600 });
  const now = Math.floor(Date.now() / 1000);
  const jwtPayload = { iss: ISSUER, aud: AUDIENCE, sub: USER, iat: now, exp: now + 3600, cnf: { jkt: key.jkt } };
  const serialize = authorizationService().Check?.requestSerialize;
  if (!serialize) throw new Error("no Check method");
  prepared = [];
  const batch = 2000;
  for (let i = 0; i < request.proofs; i += batch) {
    const proofs = await Promise.all(
      Array.from({ length: Math.min(batch, request.proofs - i) }, () => key.proof({ htm: "GET", htu: `http://${HOST}${PATH}`, accessToken: token })),
    );
    for (const [j, dpop] of proofs.entries()) {
      const headers = { authorization: `DPoP ${token}`, dpop };
      prepared.push(serialize(checkRequestMessage({ route: request.route, headers, jwtPayload, id: i + j })));
    }
  }
  reply({ kind: "prepared" });
}

type RawCheckClient = Client & { Check(request: Buffer, callback: (error: ServiceError | null, response?: { status?: { code?: number; message?: string } }) => void): void };

async function loadGrpc(request: Extract<WorkerRequest, { kind: "grpc-load" }>): Promise<void> {
  const definition = authorizationService();
  const check = definition.Check;
  if (!check) throw new Error("no Check method");
  // Requests go out as they were serialised beforehand: the load generator's own cost stays small.
  const Ctor = makeGenericClientConstructor({ Check: { ...check, requestSerialize: (b: Buffer) => b } }, "Authorization");
  const client = new Ctor(`127.0.0.1:${request.port}`, credentials.createInsecure()) as unknown as RawCheckClient;
  let next = 0;
  let errors = 0;
  let refused = 0;
  let firstProblem: string | undefined;
  const call = (): Promise<number> =>
    new Promise((resolve) => {
      const message = request.cycle ? prepared[next++ % prepared.length] : prepared[next++];
      if (!message) return resolve(-1);
      const t0 = performance.now();
      client.Check(message, (error, response) => {
        if (error) {
          errors += 1;
          firstProblem ??= error.message;
        } else if (response?.status?.code !== 0) {
          refused += 1;
          firstProblem ??= response?.status?.message ?? "refused";
        }
        resolve(performance.now() - t0);
      });
    });
  for (let i = 0; i < request.warmupCalls; i++) await call();
  errors = 0;
  refused = 0;
  firstProblem = undefined;
  reply({ kind: "measuring" });
  const latencies: number[] = [];
  const cpu = process.cpuUsage();
  const started = performance.now();
  const deadline = started + request.durationMs;
  let exhausted = false;
  await Promise.all(
    Array.from({ length: request.inFlight }, async () => {
      while (performance.now() < deadline) {
        const ms = await call();
        if (ms < 0) {
          exhausted = true;
          return;
        }
        latencies.push(ms * 1000);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  client.close();
  const sorted = Float64Array.from(latencies).sort();
  reply({
    kind: "grpc-done",
    calls: latencies.length,
    errors,
    refused,
    seconds,
    p50Us: percentile(sorted, 0.5),
    p99Us: percentile(sorted, 0.99),
    loadCpuSeconds: (used.user + used.system) / 1e6,
    exhausted,
    ...(firstProblem !== undefined ? { firstProblem } : {}),
  });
}

interface HttpRequestSpec {
  path: string;
  headers: Record<string, string>;
}

/**
 * Open loop: request i is due at start + i / rate whatever the answers; each tick sends every
 * request that is due. Latency runs from the moment a request is written to its last byte.
 */
async function loadHttp(request: Extract<WorkerRequest, { kind: "http-load" }>): Promise<void> {
  const specs = JSON.parse(await readFile(request.file, "utf8")) as HttpRequestSpec[];
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const statuses: Record<string, number> = {};
  const latencies: number[] = [];
  let lateSends = 0;
  const send = (spec: HttpRequestSpec, record: boolean): Promise<void> =>
    new Promise((resolve) => {
      const t0 = performance.now();
      const req = httpRequest({ host: "127.0.0.1", port: request.port, path: spec.path, method: "GET", headers: { host: HOST, ...spec.headers }, agent }, (res) => {
        res.resume();
        res.on("end", () => {
          if (record) {
            latencies.push((performance.now() - t0) * 1000);
            statuses[String(res.statusCode)] = (statuses[String(res.statusCode)] ?? 0) + 1;
          }
          resolve();
        });
      });
      req.on("error", () => {
        if (record) statuses.error = (statuses.error ?? 0) + 1;
        resolve();
      });
      req.end();
    });
  // Warm-up, one at a time: connections open, Envoy and authz reach steady state.
  for (let i = 0; i < request.warmup && i < specs.length; i++) await send(specs[i] as HttpRequestSpec, false);
  reply({ kind: "measuring" });
  const measured = specs.slice(request.warmup);
  const intervalMs = 1000 / request.rate;
  const inflight: Promise<void>[] = [];
  const started = performance.now();
  let i = 0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      while (i < measured.length && started + i * intervalMs <= now) {
        if (now - (started + i * intervalMs) > 1) lateSends += 1;
        inflight.push(send(measured[i] as HttpRequestSpec, true));
        i += 1;
      }
      if (i >= measured.length) return resolve();
      setTimeout(tick, Math.max(0, started + i * intervalMs - performance.now()));
    };
    tick();
  });
  await Promise.all(inflight);
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  reply({ kind: "http-done", latenciesUs: latencies, statuses, seconds, lateSends });
}

async function handle(message: WorkerRequest): Promise<void> {
  switch (message.kind) {
    case "serve":
      return serve(message);
    case "cpu": {
      const used = process.cpuUsage();
      return reply({ kind: "cpu", userUs: used.user, systemUs: used.system });
    }
    case "loop-stats":
      return reply(loopStats());
    case "grpc-prepare":
      return prepareGrpc(message);
    case "grpc-load":
      return loadGrpc(message);
    case "http-load":
      return loadHttp(message);
    case "exit":
      await server?.stop(200);
      await replay?.close().catch(() => undefined);
      process.exit(0);
  }
}

process.on("message", (message: WorkerRequest) => {
  handle(message).catch((error: unknown) => reply({ kind: "error", message: error instanceof Error ? (error.stack ?? error.message) : String(error) }));
});
process.on("disconnect", () => process.exit(0));
