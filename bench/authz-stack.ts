/**
 * What the authz benchmarks share: the policies of the four Envoy scenarios (one translation
 * input, one workload each), the CheckRequest Envoy sends, and the child processes (bench/
 * authz-worker.ts) that serve Check or generate load, each pinned to its own core when the
 * machine has two or more.
 */
import { execFileSync, fork, type ChildProcess } from "node:child_process";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { JWK } from "jose";
import type { TranslationInput } from "../operator/resolve/objects.js";
import { jwksSecret, policy, service, sidecarPod } from "../operator/testdata/objects.js";

const here = dirname(fileURLToPath(import.meta.url));
export const RESULTS_DIR = join(here, "results");

export const BENCH_NS = "bench";
export const ISSUER = "https://id.example.com/";
export const AUDIENCE = "bench-api";
export const HOST = "api.bench.test";
export const USER = "alice";
export const PATH = `/v1/users/${USER}/orders`;
export const PATH_TEMPLATE = "/v1/users/{userId}/orders";

/** The four ways a request reaches the app, side by side through the same Envoy build. */
export type Scenario = "passthrough" | "jwt-authn" | "authz-jwt" | "authz-jwt-dpop";
export const SCENARIOS: readonly Scenario[] = ["passthrough", "jwt-authn", "authz-jwt", "authz-jwt-dpop"];

export const SCENARIO_DESCRIPTIONS: Record<Scenario, string> = {
  passthrough: "(a) no check: the route lets every request through",
  "jwt-authn": "(b) Envoy's jwt_authn only",
  "authz-jwt": "(c) jwt_authn + bulwark authz (ownership, no DPoP)",
  "authz-jwt-dpop": "(d) jwt_authn + bulwark authz (DPoP + ownership)",
};

export const routeOf = (scenario: Scenario): string => `apisecuritypolicy/${BENCH_NS}/${scenario}/rule/orders`;

function scenarioPolicy(scenario: Scenario): Record<string, unknown> {
  const rule = { name: "orders", match: { methods: ["GET"], pathTemplate: PATH_TEMPLATE } };
  const provider = { name: "idp", issuer: ISSUER, audiences: [AUDIENCE], jwks: { secretRef: { name: "idp-jwks" } } };
  const spec: Record<string, unknown> = { targetRefs: [{ kind: "Service", name: scenario }] };
  if (scenario === "passthrough") {
    spec.rules = [{ ...rule, authentication: "None" }];
  } else {
    const dpop = scenario === "authz-jwt-dpop" ? { senderConstraint: { dpop: { required: true, maxProofAge: "60s" } } } : {};
    spec.authentication = { jwt: { providers: [provider], ...dpop } };
    spec.rules = [scenario === "jwt-authn" ? rule : { ...rule, ownership: { pathParam: "userId" } }];
  }
  return policy({ namespace: BENCH_NS, name: scenario, created: "2026-01-01T00:00:00Z", spec });
}

/** One policy, Service and sidecar Pod per scenario; `ports` gives each sidecar's listener (the app is shared). */
export function benchInput(options: { jwks: { keys: JWK[] }; appPort?: number; sidecarPorts?: Partial<Record<Scenario, number>> }): TranslationInput {
  return {
    policies: SCENARIOS.map(scenarioPolicy),
    services: SCENARIOS.map((s) => service(BENCH_NS, s, { app: s })),
    pods: SCENARIOS.map((s, i) => sidecarPod(BENCH_NS, `${s}-0`, { app: s }, { sidecar: options.sidecarPorts?.[s] ?? 15006 + i, app: options.appPort ?? 8080 })),
    secrets: [jwksSecret(BENCH_NS, "idp-jwks", options.jwks)],
    now: new Date().toISOString(),
  };
}

/** google.protobuf.Value of a JSON value, as Envoy's jwt_authn puts the payload into dynamic metadata (protobufjs's well-known types: camelCase). */
function protoValue(value: unknown): Record<string, unknown> {
  if (value === null || value === undefined) return { nullValue: "NULL_VALUE" };
  if (typeof value === "number") return { numberValue: value };
  if (typeof value === "string") return { stringValue: value };
  if (typeof value === "boolean") return { boolValue: value };
  if (Array.isArray(value)) return { listValue: { values: value.map(protoValue) } };
  return { structValue: protoStruct(value as Record<string, unknown>) };
}

function protoStruct(value: Record<string, unknown>): Record<string, unknown> {
  return { fields: Object.fromEntries(Object.entries(value).map(([k, v]) => [k, protoValue(v)])) };
}

/**
 * A CheckRequest like the one Envoy 1.40 sends for a request on `route` (addresses, time, request
 * id, the usual headers, the route's context extension, jwt_authn's payload in metadata).
 */
export function checkRequestMessage(options: { route: string; headers: Record<string, string>; jwtPayload: Record<string, unknown>; id: number }): Record<string, unknown> {
  const seconds = Math.floor(Date.now() / 1000);
  const headers = {
    ":authority": HOST,
    ":path": PATH,
    ":method": "GET",
    ":scheme": "http",
    "user-agent": "bench-app/4.3.0 (iPhone; iOS 18.1)",
    accept: "application/json",
    "x-forwarded-proto": "http",
    "x-request-id": `9d4c1f0e-0000-4000-8000-${String(options.id).padStart(12, "0")}`,
    ...options.headers,
  };
  return {
    attributes: {
      source: { address: { socket_address: { address: "127.0.0.1", port_value: 40000 + (options.id % 20000) } } },
      destination: { address: { socket_address: { address: "127.0.0.1", port_value: 15006 } } },
      request: {
        time: { seconds: String(seconds), nanos: 0 },
        http: { id: String(options.id), method: "GET", headers, path: PATH, host: HOST, scheme: "http", protocol: "HTTP/1.1" },
      },
      context_extensions: { "bulwark.dev/route": options.route },
      metadata_context: { filter_metadata: { "envoy.filters.http.jwt_authn": { fields: { jwt_payload: protoValue(options.jwtPayload) } } } },
    },
  };
}

/** Cores to pin the server and the load generator to, when there are at least two (BENCH_AUTHZ_NO_PIN=1: none). */
export function cores(): { server?: number; load?: number; count: number } {
  const count = cpus().length;
  return count >= 2 && process.env.BENCH_AUTHZ_NO_PIN !== "1" ? { server: 1, load: 0, count } : { count };
}

/** Pins every thread of `pid` to `cpu` (taskset -a); false when taskset is not available. */
export function pin(pid: number, cpu: number | undefined): boolean {
  if (cpu === undefined) return false;
  try {
    execFileSync("taskset", ["-a", "-cp", String(cpu), String(pid)], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Messages between the benchmark and its workers. */
export type WorkerRequest =
  | { kind: "serve"; input: TranslationInput; redisUrl?: string; redisPrefix?: string }
  | { kind: "cpu" }
  /** The server's event-loop delay and GC pauses since the last ask (then starts counting again). */
  | { kind: "loop-stats" }
  | { kind: "grpc-prepare"; route: string; proofs: number }
  | {
      kind: "grpc-load";
      port: number;
      durationMs: number;
      warmupCalls: number;
      inFlight: number;
      /** Send the prepared requests again and again (routes without DPoP). */ cycle?: boolean;
    }
  | { kind: "http-load"; port: number; file: string; rate: number; warmup: number }
  | { kind: "exit" };

export type WorkerReply =
  | { kind: "serving"; port: number }
  | { kind: "cpu"; userUs: number; systemUs: number }
  | { kind: "loop-stats"; loopDelay: { p50Us: number; p99Us: number; maxUs: number }; gc: { count: number; pauseMs: number; maxPauseMs: number; byKind: Record<string, number> } }
  | { kind: "prepared" }
  | { kind: "measuring" }
  | {
      kind: "grpc-done";
      calls: number;
      errors: number;
      refused: number;
      seconds: number;
      p50Us: number;
      p99Us: number;
      loadCpuSeconds: number;
      exhausted: boolean;
      firstProblem?: string;
    }
  | { kind: "http-done"; latenciesUs: number[]; statuses: Record<string, number>; seconds: number; lateSends: number }
  | { kind: "error"; message: string };

/** A worker child process (bench/authz-worker.ts) with a request/reply channel. */
export class Worker {
  private readonly waiting: { kinds: WorkerReply["kind"][]; resolve: (reply: WorkerReply) => void; reject: (error: Error) => void }[] = [];
  private readonly child: ChildProcess;
  pinned = false;

  get pid(): number {
    if (this.child.pid === undefined) throw new Error(`${this.name} has no pid`);
    return this.child.pid;
  }

  constructor(
    readonly name: string,
    options: { cpu?: number; profileDir?: string; nodeFlags?: string[] } = {},
  ) {
    const extra = options.nodeFlags ?? [];
    const execArgv = ["--import", "tsx", ...extra, ...(options.profileDir ? ["--cpu-prof", `--cpu-prof-dir=${options.profileDir}`] : [])];
    this.child = fork(join(here, "authz-worker.ts"), [name], { execArgv, stdio: ["ignore", "inherit", "inherit", "ipc"] });
    if (this.child.pid !== undefined) this.pinned = pin(this.child.pid, options.cpu);
    this.child.on("message", (message: WorkerReply) => {
      if (message.kind === "error") {
        for (const w of this.waiting.splice(0)) w.reject(new Error(`${name}: ${message.message}`));
        return;
      }
      const i = this.waiting.findIndex((w) => w.kinds.includes(message.kind));
      if (i >= 0) this.waiting.splice(i, 1)[0]?.resolve(message);
    });
    this.child.on("exit", (code) => {
      for (const w of this.waiting.splice(0)) w.reject(new Error(`${name} exited with ${code}`));
    });
  }

  send(request: WorkerRequest): void {
    this.child.send(request);
  }

  /** Sends `request` (if any) and waits for a reply of one of `kinds`. */
  ask<K extends WorkerReply["kind"]>(request: WorkerRequest | undefined, ...kinds: K[]): Promise<Extract<WorkerReply, { kind: K }>> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ kinds, resolve: resolve as (reply: WorkerReply) => void, reject });
      if (request) this.send(request);
    });
  }

  /** Asks the worker to exit (so a CPU profile gets written), then makes sure it has. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.send({ kind: "exit" });
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  }
}
