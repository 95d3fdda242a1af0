/**
 * Apply-to-ACK: the time from an API write of an APISecurityPolicy to the moment every sidecar
 * of its targets has acknowledged the new configuration, through the whole system — the API
 * server, `bulwark controller` as a separate process (watch, translation, snapshot cache, ADS)
 * and the sidecars — for 1 sidecar (a real Envoy, SotW and delta) and 100 sidecars (the
 * lightweight ADS clients of bench/ads-client.ts); and, for 1,000 policies × 1,000 workloads,
 * the time of a full resync (controller start → every snapshot set) and of one policy edit.
 *
 * Runs on a fresh local cluster (test/env), or on BULWARK_BENCH_KUBECONFIG when set (objects are
 * created in new namespaces there and deleted afterwards). BENCH_APPLY_SCALE_ONLY=1 runs only the
 * 1,000 × 1,000 scenario (BENCH_CONTROLLER_CLI: another build's main.js to compare). BENCH_APPLY_QUICK=1 runs fewer rounds
 * and a smaller scale and does not write the results file.
 */
import { CoreV1Api, CustomObjectsApi, Watch, type KubeConfig } from "@kubernetes/client-node";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { group, plural, version } from "../operator/api/v1alpha1/policy.js";
import { startEnvironment, type RunningEnvironment } from "../test/env/environment.js";
import { exec } from "../test/env/exec.js";
import { consoleSteps } from "../test/env/steps.js";
import {
  applyCrds,
  conditionOf,
  createIssuer,
  createNamespace,
  createSecret,
  createService,
  createSidecarPod,
  deleteNamespace,
  kubeConfig,
  metricValue,
  patchPolicySpec,
  policyManifest,
  startController,
  startSidecarPod,
  waitFor,
  type ControllerProcess,
  type E2eEnvironment,
  type PolicyObject,
  type SidecarPod,
  type TokenIssuer,
} from "../test/support/e2e.js";
import { credentials, type ChannelCredentials } from "@grpc/grpc-js";
import { podToken, xdsServingFiles } from "../test/support/xds-credentials.js";
import { AdsClient } from "./ads-client.js";
import { compiledCli } from "./compiled-cli.js";
import type { Benchmark } from "./benchmark.js";
import { percentiles, type Percentiles } from "./stats.js";

const here = dirname(fileURLToPath(import.meta.url));
const RESULTS_FILE = join(here, "results", "controller-apply.json");

interface Plan {
  envoyRounds: number;
  fleetRounds: number;
  fleetSize: number;
  scale: number;
  editRounds: number;
}
const FULL: Plan = { envoyRounds: 30, fleetRounds: 20, fleetSize: 100, scale: 1000, editRounds: 15 };
const QUICK: Plan = { envoyRounds: 5, fleetRounds: 3, fleetSize: 20, scale: 100, editRounds: 3 };

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const round1 = (n: number): number => Math.round(n * 10) / 10;

/** Runs `work` over `items` with at most `limit` at a time. */
async function pool<T>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await work(items[i] as T, i);
      }
    }),
  );
}

/** The spec every benchmark policy has; `scope` alternates between rounds so each write changes the sidecars' routes. */
export function benchSpec(service: string, idp: Pick<TokenIssuer, "issuer" | "audience">, scope: string): Record<string, unknown> {
  return {
    targetRefs: [{ kind: "Service", name: service }],
    authentication: {
      jwt: {
        providers: [
          { name: "idp", issuer: idp.issuer, audiences: [idp.audience], jwks: { secretRef: { name: "idp-jwks" } }, claimsToHeaders: [{ claim: "sub", header: "x-user-id" }] },
        ],
      },
    },
    rules: [
      { name: "orders", match: { methods: ["GET"], pathPrefix: "/v1/orders/" }, require: { scopes: [scope] } },
      { name: "profile", match: { methods: ["GET", "PUT"], path: "/v1/profile" } },
      {
        name: "images",
        match: { methods: ["GET"], pathPrefix: "/v1/images/" },
        authentication: "None",
        rateLimits: [{ name: "shield", scope: "Local", limit: { requests: 1000, per: "1s" } }],
      },
    ],
    defaultAction: "Deny",
  };
}

const scopeOf = (round: number): string => (round % 2 === 0 ? "orders:read" : "orders:write");

// ---------------------------------------------------------------------------------------------

/** Follows the policies of a namespace with a watch and tells when one reaches a state. */
class PolicyWatcher {
  private readonly latest = new Map<string, PolicyObject>();
  private readonly waiters = new Set<{ name: string; test: (p: PolicyObject) => boolean; resolve: (at: number) => void }>();
  private request: { abort(): void } | undefined;
  private stopped = false;

  constructor(
    private readonly kc: KubeConfig,
    private readonly namespace: string,
  ) {}

  /**
   * Lists, then watches from the list's resourceVersion. When the watch ends for any reason (the
   * API server closes a watcher that falls behind, or at its timeout), it lists and watches again:
   * a watch that ended quietly would otherwise leave a policy looking stuck in its last state.
   */
  async start(): Promise<void> {
    const list = (await this.kc.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({ group, version, plural, namespace: this.namespace })) as {
      items: PolicyObject[];
      metadata: { resourceVersion: string };
    };
    const at = performance.now();
    this.latest.clear();
    for (const p of list.items) {
      this.latest.set(p.metadata.name, p);
      this.settle(p, at);
    }
    const watch = new Watch(this.kc);
    this.request = await watch.watch(
      `/apis/${group}/${version}/namespaces/${this.namespace}/${plural}`,
      { resourceVersion: list.metadata.resourceVersion, allowWatchBookmarks: false },
      (phase: string, object: PolicyObject) => {
        const seen = performance.now();
        if (phase === "DELETED") this.latest.delete(object.metadata.name);
        else {
          this.latest.set(object.metadata.name, object);
          this.settle(object, seen);
        }
      },
      (error: unknown) => {
        if (this.stopped) return;
        console.error(
          `policy watch of ${this.namespace} ended (${error ? (error instanceof Error ? error.message : JSON.stringify(error)) : "closed by the API server"}); listing again`,
        );
        this.restart(200);
      },
    );
  }

  /** start() again after `delayMs`, and again every second while it fails. */
  private restart(delayMs: number): void {
    setTimeout(() => {
      if (this.stopped) return;
      this.start().catch((e: unknown) => {
        console.error(`policy watch of ${this.namespace} could not restart (${String(e)}); trying again`);
        this.restart(1000);
      });
    }, delayMs);
  }

  /** Resolves the waiters of `object` whose state it reaches. */
  private settle(object: PolicyObject, at: number): void {
    for (const w of this.waiters) {
      if (w.name === object.metadata.name && w.test(object)) {
        this.waiters.delete(w);
        w.resolve(at);
      }
    }
  }

  /** Resolves with the time (performance.now) the policy was first seen in a state that passes `test`. */
  when(name: string, test: (p: PolicyObject) => boolean, timeoutMs = 60_000): Promise<number> {
    const current = this.latest.get(name);
    if (current && test(current)) return Promise.resolve(performance.now());
    return new Promise((resolve, reject) => {
      const waiter = {
        name,
        test,
        resolve: (at: number): void => {
          clearTimeout(timer);
          resolve(at);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`policy ${this.namespace}/${name} did not reach the awaited state within ${timeoutMs} ms; last status ${JSON.stringify(this.latest.get(name)?.status)}`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  stop(): void {
    this.stopped = true;
    this.request?.abort();
  }
}

/** Programmed True for exactly this generation, with every sidecar counted. */
function programmedAt(generation: number, sidecars: number): (p: PolicyObject) => boolean {
  return (p) =>
    p.metadata.generation === generation &&
    p.status?.observedGeneration === generation &&
    conditionOf(p, "Programmed")?.status === "True" &&
    conditionOf(p, "Programmed")?.observedGeneration === generation &&
    p.status.sidecars === `${sidecars}/${sidecars}`;
}

/**
 * A loopback TCP relay in front of the controller's xDS port that timestamps what the sidecar
 * sends: after a push, the last bytes a real Envoy sends before the status turns Programmed are
 * its ACK (Envoy applies a configuration before acknowledging it).
 */
async function startRelay(targetPort: number): Promise<{ port: number; sentBy: number[]; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const sentBy: number[] = [];
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: "127.0.0.1", port: targetPort });
    sockets.add(client).add(upstream);
    client.on("data", (chunk: Buffer) => {
      sentBy.push(performance.now());
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => client.write(chunk));
    const close = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", close).on("close", close);
    upstream.on("error", close).on("close", close);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (!address || typeof address !== "object") throw new Error("relay has no port");
  return {
    port: address.port,
    sentBy,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * What each simulated sidecar presents to the controller, as an injected pod's does: the xDS
 * serving CA and a token bound to its Pod (TokenRequest), fetched before any timing starts.
 */
async function fleetCredentials(
  kc: KubeConfig,
  namespace: string,
  pods: readonly string[],
): Promise<{ sidecars: { nodeId: string; token: string }[]; credentials: ChannelCredentials }> {
  const { caPem } = await xdsServingFiles();
  const sidecars: { nodeId: string; token: string }[] = [];
  await pool(pods, 16, async (pod, i) => {
    sidecars[i] = { nodeId: `${pod}.${namespace}`, token: await podToken(kc, { namespace, pod }) };
  });
  return { sidecars, credentials: credentials.createSsl(Buffer.from(caPem)) };
}

/** Simulated sidecars; each response a client receives is acknowledged in the same tick, so its time is the ACK's. */
class Fleet {
  readonly clients: AdsClient[] = [];
  /** Per client, the times of its responses (ACKs). */
  readonly acks: number[][] = [];
  errors = 0;

  constructor(target: string, sidecars: readonly { nodeId: string; token: string }[], options: { delta: boolean; credentials: ChannelCredentials }) {
    sidecars.forEach(({ nodeId, token }, i) => {
      const client = new AdsClient({ target, nodeId, delta: options.delta, credentials: options.credentials, token, onError: () => (this.errors += 1) });
      const times: number[] = [];
      let total = 0;
      Object.defineProperty(client.responses, "total", {
        get: () => total,
        set: (value: number) => {
          total = value;
          times.push(performance.now());
        },
      });
      this.clients.push(client);
      this.acks[i] = times;
    });
  }

  async start(): Promise<void> {
    for (let i = 0; i < this.clients.length; i++) {
      this.clients[i]?.start();
      if (i % 50 === 49) await sleep(5);
    }
  }

  /** Per client, its last ACK in (after, until]. */
  lastAcks(after: number, until: number): (number | undefined)[] {
    return this.acks.map((times) => times.filter((t) => t > after && t <= until).at(-1));
  }

  close(): void {
    for (const c of this.clients) c.close();
  }
}

// ---------------------------------------------------------------------------------------------

interface ApplyResult {
  sidecars: number;
  client: "envoy" | "ads-client";
  mode: "sotw" | "delta";
  rounds: number;
  /** The API write itself (request → response). */
  writeMs: Percentiles;
  /** API write → the last sidecar's ACK of the new configuration, per round. */
  ackAllMs: Percentiles;
  /** API write → each sidecar's ACK. */
  ackPerSidecarMs: Percentiles;
  /** API write → the new behaviour answered on the sidecar's listener (real Envoy only). */
  enforcedMs?: Percentiles;
  /** API write → the policy's status says Programmed for the new generation, n/n (seen through a watch). */
  statusMs: Percentiles;
}

interface ScaleResult {
  policies: number;
  workloads: number;
  /** Creating the Services, Pods and policies (client-node, 16 at a time). */
  createSeconds: number;
  resync: {
    /** Controller process spawned (node start included) → /readyz. */
    spawnToReadyMs: number;
    /** Controller process spawned → every workload's snapshot set (bulwark_snapshot_updates_total). */
    spawnToAllSnapshotsMs: number;
    /** Reconciles run until every snapshot was set, and their total duration (bulwark_reconcile_duration_seconds). */
    reconciles: { count: number; totalMs: number };
    /** The controller's CPU from its start until every snapshot was set (process_cpu_seconds_total). */
    cpuMs: number;
    /** Same for a restart of the controller with every status already written. */
    restart: { spawnToReadyMs: number; spawnToAllSnapshotsMs: number; cpuMs: number; reconciles: { count: number; totalMs: number } };
  };
  /** 1,000 simulated sidecars (one per workload) connecting to the running controller → all ACKed. */
  connectAllToAckedMs: number;
  edit: {
    rounds: number;
    /** API write → the edited workload's sidecar ACKed. */
    ackMs: Percentiles;
    /** API write → Programmed status for the new generation. */
    statusMs: Percentiles;
    /** Mean duration of the reconciles an edit caused (translation of every policy + snapshot diff; status writes cause more). */
    reconcileMs: Percentiles;
    reconcilesPerEdit: number[];
    /** Snapshots that changed per edit (should be 1: only the edited workload's). */
    snapshotsChangedPerEdit: number[];
    /** The controller's CPU (process_cpu_seconds_total) from the write until it is quiet again: everything the edit caused. */
    controllerCpuMs: Percentiles;
    /** Mean time per edit in each reconcile stage (bulwark_reconcile_stage_duration_seconds; status: every status write). */
    stagesMs: Record<string, number>;
  };
}

const STAGES = ["input", "resolve", "ir", "snapshots", "status"] as const;

/** The controller's total time so far in each reconcile stage, ms. */
async function stageTotals(controller: ControllerProcess): Promise<Record<string, number>> {
  const text = await controller.metrics();
  return Object.fromEntries(STAGES.map((stage) => [stage, (metricValue(text, "bulwark_reconcile_stage_duration_seconds_sum", { stage }) ?? 0) * 1000]));
}

interface Context {
  env: E2eEnvironment;
  /** dist/cli/main.js, compiled for this run: the controller runs as production runs it (plain node, no tsx). */
  cli: string;
  kc: KubeConfig;
  idp: TokenIssuer;
  leaseNamespace: string;
  namespaces: string[];
}

async function newNamespace(ctx: Context, prefix: string): Promise<string> {
  const name = `${prefix}-${Date.now().toString(36)}`;
  await createNamespace(ctx.kc, name);
  ctx.namespaces.push(name);
  await createSecret(ctx.kc, name, "idp-jwks", { "jwks.json": ctx.idp.jwks });
  return name;
}

async function createPolicy(ctx: Context, namespace: string, name: string, spec: Record<string, unknown>): Promise<void> {
  await ctx.kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({ group, version, plural, namespace, body: policyManifest(namespace, name, spec) });
}

/** Rounds of: write the policy, wait until Programmed n/n, read when each sidecar ACKed. */
async function applyRounds(
  ctx: Context,
  options: {
    namespace: string;
    policy: string;
    service: string;
    sidecars: number;
    rounds: number;
    watcher: PolicyWatcher;
    /** Per round: when each sidecar ACKed, given the write time and the time the status was seen. */
    acks: (after: number, until: number) => (number | undefined)[];
    /** Real Envoy: poll until the sidecar answers as generation `scope` wants; resolves with the time. */
    enforced?: (scope: string) => Promise<number>;
  },
): Promise<Omit<ApplyResult, "sidecars" | "client" | "mode">> {
  const write: number[] = [];
  const ackAll: number[] = [];
  const ackEach: number[] = [];
  const enforced: number[] = [];
  const status: number[] = [];
  let generation = (
    (await ctx.kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({ group, version, plural, namespace: options.namespace, name: options.policy })) as PolicyObject
  ).metadata.generation;
  for (let round = 1; round <= options.rounds; round++) {
    const scope = scopeOf(generation);
    generation += 1;
    await sleep(100 + Math.random() * 100);
    const t0 = performance.now();
    const enforcedAt = options.enforced?.(scope);
    const written = await patchPolicySpec(ctx.kc, options.namespace, options.policy, benchSpec(options.service, ctx.idp, scope));
    const tWritten = performance.now();
    if (written.metadata.generation !== generation) throw new Error(`expected generation ${generation}, the API server says ${written.metadata.generation}`);
    const tStatus = await options.watcher.when(options.policy, programmedAt(generation, options.sidecars), 30_000);
    const acks = options.acks(t0, tStatus);
    const missing = acks.filter((a) => a === undefined).length;
    if (missing > 0) throw new Error(`round ${round}: ${missing} of ${acks.length} sidecars sent no ACK between the write and the Programmed status`);
    const times = acks.map((a) => (a ?? t0) - t0);
    write.push(tWritten - t0);
    ackEach.push(...times);
    ackAll.push(Math.max(...times));
    status.push(tStatus - t0);
    if (enforcedAt) enforced.push((await enforcedAt) - t0);
  }
  return {
    rounds: options.rounds,
    writeMs: percentiles(write),
    ackAllMs: percentiles(ackAll),
    ackPerSidecarMs: percentiles(ackEach),
    ...(options.enforced ? { enforcedMs: percentiles(enforced) } : {}),
    statusMs: percentiles(status),
  };
}

async function envoyScenario(ctx: Context, controller: ControllerProcess, delta: boolean, rounds: number): Promise<ApplyResult> {
  const mode = delta ? "delta" : "sotw";
  const namespace = await newNamespace(ctx, `bench-envoy-${mode}`);
  const service = "api";
  await createService(ctx.kc, namespace, service, { app: service });
  const relay = await startRelay(controller.xdsPort);
  let sidecar: SidecarPod | undefined;
  const watcher = new PolicyWatcher(ctx.kc, namespace);
  try {
    await watcher.start();
    sidecar = await startSidecarPod(ctx.env, ctx.kc, { namespace, pod: "api-1", labels: { app: service }, xdsPort: relay.port, delta });
    const s = sidecar;
    await createPolicy(ctx, namespace, "api", benchSpec(service, ctx.idp, scopeOf(0)));
    await watcher.when("api", programmedAt(1, 1));
    const token = await ctx.idp.mint({ sub: "bench", scope: "orders:read" });
    const enforced = async (scope: string): Promise<number> => {
      const want = scope === "orders:read" ? 200 : 403;
      for (;;) {
        const answer = await s.request("/v1/orders/1", { authorization: `Bearer ${token}` });
        if (answer.status === want) return performance.now();
        if (answer.status !== 200 && answer.status !== 403) throw new Error(`unexpected answer ${answer.status}: ${answer.body}`);
      }
    };
    const result = await applyRounds(ctx, {
      namespace,
      policy: "api",
      service,
      sidecars: 1,
      rounds,
      watcher,
      acks: (after, until) => [relay.sentBy.filter((t) => t > after && t <= until).at(-1)],
      enforced,
    });
    return { sidecars: 1, client: "envoy", mode, ...result };
  } finally {
    watcher.stop();
    await sidecar?.stop();
    await relay.close();
  }
}

async function fleetScenario(ctx: Context, controller: ControllerProcess, delta: boolean, size: number, rounds: number): Promise<ApplyResult> {
  const mode = delta ? "delta" : "sotw";
  const namespace = await newNamespace(ctx, `bench-fleet-${mode}`);
  const service = "api";
  await createService(ctx.kc, namespace, service, { app: service });
  const pods = Array.from({ length: size }, (_, i) => `api-${String(i).padStart(4, "0")}`);
  await pool(pods, 16, (pod) => createSidecarPod(ctx.kc, { namespace, name: pod, labels: { app: service }, sidecarPort: 15001, appPort: 8080 }));
  const watcher = new PolicyWatcher(ctx.kc, namespace);
  const auth = await fleetCredentials(ctx.kc, namespace, pods);
  const fleet = new Fleet(`127.0.0.1:${controller.xdsPort}`, auth.sidecars, { delta, credentials: auth.credentials });
  try {
    await watcher.start();
    await createPolicy(ctx, namespace, "api", benchSpec(service, ctx.idp, scopeOf(0)));
    await fleet.start();
    await watcher.when("api", programmedAt(1, size), 60_000);
    const result = await applyRounds(ctx, { namespace, policy: "api", service, sidecars: size, rounds, watcher, acks: (after, until) => fleet.lastAcks(after, until) });
    if (fleet.errors > 0) throw new Error(`${fleet.errors} simulated sidecars lost their stream`);
    return { sidecars: size, client: "ads-client", mode, ...result };
  } finally {
    fleet.close();
    watcher.stop();
  }
}

/**
 * A metric of the controller; a read that times out (a controller busy with a full reconcile on
 * a loaded machine can take more than the request's 5 s to answer) is tried again for a minute.
 */
function readMetric(controller: ControllerProcess, name: string): Promise<number | undefined> {
  return waitFor(`metric ${name}`, async () => ({ value: await controller.metric(name) }), 60_000, 100).then((m) => m.value);
}

/** Spawns a controller and measures spawn → ready and spawn → every snapshot set. */
async function timedStart(
  ctx: Context,
  identity: string,
  snapshots: number,
): Promise<{ controller: ControllerProcess; spawnToReadyMs: number; spawnToAllSnapshotsMs: number; cpuMs: number; reconciles: { count: number; totalMs: number } }> {
  const t0 = performance.now();
  const controller = await startController(ctx.env, { leaseNamespace: ctx.leaseNamespace, identity, logLevel: "warn", compiledCli: ctx.cli });
  const ready = performance.now();
  await waitFor(`${snapshots} snapshots`, async () => (((await readMetric(controller, "bulwark_snapshot_updates_total")) ?? 0) >= snapshots ? true : undefined), 120_000, 10);
  const all = performance.now();
  const cpuMs = round1(((await readMetric(controller, "process_cpu_seconds_total")) ?? Number.NaN) * 1000);
  const sum = (await readMetric(controller, "bulwark_reconcile_duration_seconds_sum")) ?? Number.NaN;
  const count = (await readMetric(controller, "bulwark_reconcile_duration_seconds_count")) ?? Number.NaN;
  return { controller, spawnToReadyMs: round1(ready - t0), spawnToAllSnapshotsMs: round1(all - t0), cpuMs, reconciles: { count, totalMs: round1(sum * 1000) } };
}

async function quiet(controller: ControllerProcess, quietMs: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  let since = Date.now();
  while (Date.now() < deadline) {
    const now = `${(await readMetric(controller, "bulwark_status_writes_total")) ?? 0}/${(await readMetric(controller, "bulwark_reconcile_duration_seconds_count")) ?? 0}`;
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) {
      return;
    }
    await sleep(100);
  }
}

async function scaleScenario(ctx: Context, previous: ControllerProcess, plan: Plan): Promise<ScaleResult> {
  // The apply scenarios' controller and objects go first: the scale figures are the scale's alone.
  await previous.stop();
  for (const namespace of ctx.namespaces.splice(0)) await deleteNamespace(ctx.kc, namespace);
  const core = ctx.kc.makeApiClient(CoreV1Api);
  await waitFor(
    "earlier benchmark pods to be gone",
    async () => ((await core.listPodForAllNamespaces()).items.some((p) => p.metadata?.annotations?.["bulwark.dev/sidecar-port"]) ? undefined : true),
    120_000,
    200,
  );

  const n = plan.scale;
  const namespace = await newNamespace(ctx, "bench-scale");
  const names = Array.from({ length: n }, (_, i) => `w-${String(i).padStart(4, "0")}`);
  const createStarted = performance.now();
  await pool(names, 16, async (name) => {
    await createService(ctx.kc, namespace, name, { app: name });
    await createSidecarPod(ctx.kc, { namespace, name: `${name}-0`, labels: { app: name }, sidecarPort: 15001, appPort: 8080 });
    await createPolicy(ctx, namespace, name, benchSpec(name, ctx.idp, scopeOf(0)));
  });
  const createSeconds = round1((performance.now() - createStarted) / 1000);
  console.log(`  created ${n} Services, Pods and policies in ${createSeconds} s`);
  const auth = await fleetCredentials(
    ctx.kc,
    namespace,
    names.map((name) => `${name}-0`),
  );

  const first = await timedStart(ctx, "bench-scale-1", n);
  await quiet(first.controller, 1500, 120_000);
  await first.controller.stop();
  const restart = await timedStart(ctx, "bench-scale-1", n);
  const controller = restart.controller;
  const watcher = new PolicyWatcher(ctx.kc, namespace);
  const fleet = new Fleet(`127.0.0.1:${controller.xdsPort}`, auth.sidecars, { delta: false, credentials: auth.credentials });
  try {
    await watcher.start();
    const connectStarted = performance.now();
    await fleet.start();
    await waitFor(`${n} sidecars to ACK`, () => (fleet.acks.every((a) => a.length >= 4) ? true : undefined), 120_000, 10);
    const connectAllToAckedMs = round1(Math.max(...fleet.acks.map((a) => a[3] ?? Number.NaN)) - connectStarted);
    await Promise.all(names.map((name) => watcher.when(name, programmedAt(1, 1), 120_000)));
    await quiet(controller, 1000, 60_000);

    const ack: number[] = [];
    const status: number[] = [];
    const reconcile: number[] = [];
    const changed: number[] = [];
    const reconcileCounts: number[] = [];
    const cpu: number[] = [];
    const stageSums: Record<string, number> = Object.fromEntries(STAGES.map((stage) => [stage, 0]));
    for (let round = 1; round <= plan.editRounds; round++) {
      const index = Math.floor(Math.random() * n);
      const name = names[index] as string;
      const current = (await ctx.kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({ group, version, plural, namespace, name })) as PolicyObject;
      const generation = current.metadata.generation + 1;
      const snapshotsBefore = (await readMetric(controller, "bulwark_snapshot_updates_total")) ?? 0;
      const sumBefore = (await readMetric(controller, "bulwark_reconcile_duration_seconds_sum")) ?? 0;
      const countBefore = (await readMetric(controller, "bulwark_reconcile_duration_seconds_count")) ?? 0;
      const cpuBefore = (await readMetric(controller, "process_cpu_seconds_total")) ?? 0;
      const stagesBefore = await stageTotals(controller);
      await sleep(100);
      const t0 = performance.now();
      await patchPolicySpec(ctx.kc, namespace, name, benchSpec(name, ctx.idp, scopeOf(current.metadata.generation)));
      const tStatus = await watcher.when(name, programmedAt(generation, 1), 30_000);
      const acked = fleet.lastAcks(t0, tStatus)[index];
      if (acked === undefined) throw new Error(`edit ${round}: ${name}'s sidecar sent no ACK`);
      ack.push(acked - t0);
      status.push(tStatus - t0);
      await quiet(controller, 300, 10_000);
      cpu.push((((await readMetric(controller, "process_cpu_seconds_total")) ?? 0) - cpuBefore) * 1000);
      const stagesAfter = await stageTotals(controller);
      for (const stage of STAGES) stageSums[stage] = (stageSums[stage] ?? 0) + (stagesAfter[stage] ?? 0) - (stagesBefore[stage] ?? 0);
      changed.push(((await readMetric(controller, "bulwark_snapshot_updates_total")) ?? 0) - snapshotsBefore);
      const reconciles = ((await readMetric(controller, "bulwark_reconcile_duration_seconds_count")) ?? 0) - countBefore;
      reconcileCounts.push(reconciles);
      reconcile.push(((((await readMetric(controller, "bulwark_reconcile_duration_seconds_sum")) ?? 0) - sumBefore) * 1000) / Math.max(1, reconciles));
    }
    if (fleet.errors > 0) throw new Error(`${fleet.errors} simulated sidecars lost their stream`);
    return {
      policies: n,
      workloads: n,
      createSeconds,
      resync: {
        spawnToReadyMs: first.spawnToReadyMs,
        spawnToAllSnapshotsMs: first.spawnToAllSnapshotsMs,
        reconciles: first.reconciles,
        cpuMs: first.cpuMs,
        restart: { spawnToReadyMs: restart.spawnToReadyMs, spawnToAllSnapshotsMs: restart.spawnToAllSnapshotsMs, cpuMs: restart.cpuMs, reconciles: restart.reconciles },
      },
      connectAllToAckedMs,
      edit: {
        rounds: plan.editRounds,
        ackMs: percentiles(ack),
        statusMs: percentiles(status),
        reconcileMs: percentiles(reconcile),
        reconcilesPerEdit: reconcileCounts,
        snapshotsChangedPerEdit: changed,
        controllerCpuMs: percentiles(cpu),
        stagesMs: Object.fromEntries(STAGES.map((stage) => [stage, round1((stageSums[stage] ?? 0) / plan.editRounds)])),
      },
    };
  } finally {
    fleet.close();
    watcher.stop();
    await controller.stop();
  }
}

// ---------------------------------------------------------------------------------------------

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]?.length ?? 0)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  ");
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

const pct = (p: Percentiles | undefined): [string, string] => (p ? [p.p50.toFixed(1), p.p99.toFixed(1)] : ["-", "-"]);

async function withEnvironment<T>(work: (env: E2eEnvironment) => Promise<T>): Promise<T> {
  const external = process.env.BULWARK_BENCH_KUBECONFIG;
  let running: RunningEnvironment | undefined;
  const saved = process.env.KUBECONFIG;
  try {
    // A fresh local cluster unless one is named for the benchmark: it creates thousands of objects.
    delete process.env.KUBECONFIG;
    running = await startEnvironment({ dir: await mkdtemp(join(tmpdir(), "bulwark-bench-apply-")), steps: consoleSteps("bench env"), keepAlive: false, kubeconfig: external });
    if (saved !== undefined) process.env.KUBECONFIG = saved;
    return await work({ kubeconfig: running.info.kubeconfig, envoy: running.info.binaries.envoy, kubectl: running.info.binaries.kubectl });
  } finally {
    if (saved !== undefined) process.env.KUBECONFIG = saved;
    await running?.stop();
  }
}

async function run(): Promise<void> {
  const quick = process.env.BENCH_APPLY_QUICK === "1";
  // BENCH_APPLY_SCALE_ONLY=1: only the 1,000 × 1,000 scenario (to compare builds); no results file.
  const scaleOnly = process.env.BENCH_APPLY_SCALE_ONLY === "1";
  const plan = quick ? QUICK : FULL;
  await withEnvironment(async (env) => {
    const kc = kubeConfig(env);
    const ctx: Context = {
      env,
      // BENCH_CONTROLLER_CLI: another build's main.js, to compare two builds in the same conditions.
      cli: process.env.BENCH_CONTROLLER_CLI ?? (await compiledCli()),
      kc,
      idp: await createIssuer("https://idp.bench.bulwark.test/", "bench-api"),
      leaseNamespace: `bench-lease-${Date.now().toString(36)}`,
      namespaces: [],
    };
    await applyCrds(env);
    await createNamespace(kc, ctx.leaseNamespace);
    const load = { start: loadavg()[0] ?? 0, end: 0 };
    const envoyVersion = (await exec(env.envoy, ["--version"], { missingFix: "" })).stdout.trim().split("\n").pop() ?? "";
    const controller = await startController(env, { leaseNamespace: ctx.leaseNamespace, identity: "bench-apply", logLevel: "warn", compiledCli: ctx.cli });
    const apply: ApplyResult[] = [];
    let scale: ScaleResult | undefined;
    try {
      for (const delta of scaleOnly ? [] : [false, true]) {
        const r = await envoyScenario(ctx, controller, delta, plan.envoyRounds);
        apply.push(r);
        console.log(`  1 Envoy (${r.mode}): ACK p50 ${r.ackAllMs.p50} ms, p99 ${r.ackAllMs.p99} ms; enforced p99 ${r.enforcedMs?.p99 ?? "-"} ms; status p99 ${r.statusMs.p99} ms`);
      }
      for (const delta of scaleOnly ? [] : [false, true]) {
        const r = await fleetScenario(ctx, controller, delta, plan.fleetSize, plan.fleetRounds);
        apply.push(r);
        console.log(`  ${r.sidecars} ADS clients (${r.mode}): all ACKed p50 ${r.ackAllMs.p50} ms, p99 ${r.ackAllMs.p99} ms; status p99 ${r.statusMs.p99} ms`);
      }
      scale = await scaleScenario(ctx, controller, plan);
    } finally {
      await controller.stop();
      if (process.env.BULWARK_BENCH_KUBECONFIG) for (const namespace of [...ctx.namespaces, ctx.leaseNamespace]) await deleteNamespace(kc, namespace);
    }
    load.end = loadavg()[0] ?? 0;

    console.log(
      `\n${table(
        ["API write → ACK", "sidecars", "rounds", "write p50", "all ACKed p50", "all ACKed p99", "per sidecar p99", "enforced p50", "enforced p99", "status p50", "status p99"],
        apply.map((r) => [
          `${r.client === "envoy" ? "Envoy" : "ADS client"} ${r.mode}`,
          String(r.sidecars),
          String(r.rounds),
          r.writeMs.p50.toFixed(1),
          ...pct(r.ackAllMs),
          pct(r.ackPerSidecarMs)[1],
          ...pct(r.enforcedMs),
          ...pct(r.statusMs),
        ]),
      )}\n(ms; enforced = the new behaviour answered on the Envoy's listener; status = Programmed n/n for the new generation seen through a watch)\n`,
    );
    const s = scale;
    console.log(
      `${table(
        [`${s.policies} policies × ${s.workloads} workloads`, "ms"],
        [
          ["full resync: spawn → ready", String(s.resync.spawnToReadyMs)],
          ["full resync: spawn → all snapshots set", String(s.resync.spawnToAllSnapshotsMs)],
          [`full resync: reconciles until then (${s.resync.reconciles.count}), total`, String(s.resync.reconciles.totalMs)],
          ["full resync: controller CPU until then", String(s.resync.cpuMs)],
          ["restart: spawn → all snapshots set", String(s.resync.restart.spawnToAllSnapshotsMs)],
          ["restart: controller CPU until then", String(s.resync.restart.cpuMs)],
          [`restart: reconciles until then (${s.resync.restart.reconciles.count}), total`, String(s.resync.restart.reconciles.totalMs)],
          [`${s.workloads} sidecars connect → all ACKed`, String(s.connectAllToAckedMs)],
          ["one edit: API write → ACK p50", s.edit.ackMs.p50.toFixed(1)],
          ["one edit: API write → ACK p99", s.edit.ackMs.p99.toFixed(1)],
          ["one edit: API write → status p99", s.edit.statusMs.p99.toFixed(1)],
          [`one edit: reconcile p50 (${Math.max(...s.edit.reconcilesPerEdit)} at most per edit)`, s.edit.reconcileMs.p50.toFixed(1)],
          ["one edit: snapshots changed", [...new Set(s.edit.snapshotsChangedPerEdit)].join(", ")],
          ["one edit: controller CPU p50 (until quiet)", s.edit.controllerCpuMs.p50.toFixed(1)],
          ["one edit: controller CPU p99 (until quiet)", s.edit.controllerCpuMs.p99.toFixed(1)],
          ...STAGES.map((stage) => [`one edit: ${stage} stage, mean`, String(s.edit.stagesMs[stage] ?? "-")]),
        ],
      )}\n`,
    );
    const cpu = cpus();
    const report = {
      benchmark: "controller-apply",
      date: new Date().toISOString(),
      machine: { cpus: cpu.length, cpuModel: cpu[0]?.model ?? "unknown", memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, platform: process.platform, load },
      envoy: envoyVersion,
      conditions: [
        "Everything on one machine over loopback: etcd, kube-apiserver and kube-controller-manager of test/env, `bulwark controller` as a separate Node.js process (the compiled dist/cli/main.js under plain node, as production runs it; log level warn), the sidecars and this benchmark process.",
        "API write = a client-node JSON merge patch of the policy's spec (the time starts before the request is sent); every write changes the required scope of one rule, so the sidecars' routes change.",
        "1 sidecar: a real Envoy (--concurrency 1) with Bulwark's bootstrap, connected through a loopback TCP relay that timestamps what Envoy sends; its ACK time is the last bytes it sent before the Programmed status. Enforced = a loop of requests with a token sees the new answer (200 ↔ 403).",
        "100 sidecars: the lightweight ADS clients of bench/ads-client.ts in this process (each its own HTTP/2 connection), which acknowledge every response in the tick they receive it; the ACK time is that tick.",
        "Status = the policy's Programmed condition for the new generation with n/n sidecars, seen through a watch: what `kubectl wait` would see.",
        "Scale: one namespace with N Services, each selecting one Pod (sidecar annotations) and targeted by one policy (JWT provider with a JWKS Secret, 3 rules, a local rate limit): N workloads, N snapshots. Resync = controller process spawned → bulwark_snapshot_updates_total reaches N (includes node start-up, the lists and the first reconcile); reconcile durations from bulwark_reconcile_duration_seconds. Restart = the same with every status already written. Edit = one random policy's scope changed, API write → its sidecar's ACK, with N simulated sidecars connected.",
      ],
      apply,
      scale,
    };
    if (quick || scaleOnly) {
      console.log(`(${quick ? "BENCH_APPLY_QUICK" : "BENCH_APPLY_SCALE_ONLY"}=1: results file not written)`);
      return;
    }
    await mkdir(dirname(RESULTS_FILE), { recursive: true });
    await writeFile(RESULTS_FILE, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`results: ${RESULTS_FILE}`);
  });
}

export const controllerApply: Benchmark = { name: "controller-apply", run };

// `tsx bench/controller-apply.ts` runs it alone.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  run().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
