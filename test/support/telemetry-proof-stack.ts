import { createServer, type Server } from "node:http";
import { Writable } from "node:stream";
import { Redis } from "ioredis";
import { pino, type Logger } from "pino";
import { Registry } from "prom-client";
import { standaloneBootstrap } from "../../envoy/bootstrap/standalone-bootstrap.js";
import type { TranslationInput } from "../../operator/resolve/objects.js";
import { jwksSecret, policy, service, sidecarPod } from "../../operator/testdata/objects.js";
import { defaultSettings, render } from "../../operator/translate/render.js";
import { RedisAdaptiveStore } from "../../services/adaptive/redis-store.js";
import { AdaptiveCache } from "../../services/authz/adaptive-cache.js";
import { buildRouteTable, RouteTableHolder } from "../../services/authz/config.js";
import { DpopNonces } from "../../services/authz/dpop-nonce.js";
import { KeySets } from "../../services/authz/keys.js";
import { MemoryReplayStore } from "../../services/authz/replay-store.js";
import { AuthzServer } from "../../services/authz/service.js";
import { RedisStore } from "../../services/ratelimit/redis-store.js";
import { TelemetryReceiver } from "../../services/telemetry/receiver.js";
import { TelemetryReporting, type TelemetryReportingOptions } from "../../services/telemetry/reporting.js";
import type { CountryOf } from "../../services/telemetry/signals/country.js";
import { freePort } from "../env/processes.js";
import { startEnvoy, type EnvoyProcess } from "./envoy-process.js";
import { testEnvironment } from "./environment.js";
import { testAuthentication, testIssuer, TEST_JWKS_SECRET, type TestIssuer } from "./policy-sidecar.js";
import type { ReplayReply } from "./trace-replay.js";
import type { Trace } from "./traffic-trace.js";

/**
 * The stack the proofs of #15 replay traces through: a policy with spec.telemetry, Login and
 * Payment rules, a deprecated prefix, an OpenAPI document in a ConfigMap and an adaptive response;
 * a real Envoy with the policy's sidecar configuration (the offline translation), an app that
 * answers each request with the status it asks for, a real bulwark authz reading the blocks from
 * the real Redis, and the real receiver feeding TelemetryReporting in this process.
 */

export const PROOF_POLICY = "shop-api";

const rules = [
  { name: "login", authentication: "None", purpose: "Login", match: { path: "/v1/login", methods: ["POST"] } },
  { name: "payments", purpose: "Payment", match: { path: "/v1/payments", methods: ["POST"] } },
  { name: "feed", match: { path: "/v1/feed", methods: ["GET"] } },
  { name: "search", authentication: "Optional", match: { path: "/v1/search", methods: ["GET"] } },
  { name: "products", authentication: "Optional", match: { pathPrefix: "/v1/products/", methods: ["GET"] } },
  { name: "sellers", authentication: "Optional", match: { pathTemplate: "/v1/sellers/{sellerId}", methods: ["GET"] } },
  { name: "cart", match: { path: "/v1/cart", methods: ["GET"] } },
  { name: "profile", match: { path: "/v1/profile", methods: ["GET"] } },
  { name: "orders", match: { pathPrefix: "/v1/users/", methods: ["GET"] } },
  { name: "legacy", authentication: "None", match: { pathPrefix: "/v0/", methods: ["GET"] } },
];

function policySpec(): Record<string, unknown> {
  return {
    targetRefs: [{ kind: "Service", name: "shop-api" }],
    authentication: testAuthentication("shop-api"),
    rules,
    clientAddress: { trustedHops: 1 },
    mobile: { deprecations: [{ pathPrefix: "/v0/", deprecatedAt: "2026-01-01", sunsetAt: "2027-06-01" }] },
    telemetry: { deviceHeader: "X-Device-Id" },
    apiInventory: { openAPI: { configMap: { name: "shop-openapi", key: "openapi.json" } } },
    adaptiveResponse: {
      deviceHeader: "X-Device-Id",
      rules: [
        { signal: "CredentialStuffing", identity: "ClientAddress", action: "Block", duration: "10m" },
        { signal: "CardTesting", identity: "Account", action: "Block", duration: "10m" },
        { signal: "Enumeration", identity: "Account", action: "Block", duration: "10m" },
        { signal: "Scraping", identity: "Device", action: "Block", duration: "10m", mode: "Shadow" },
      ],
    },
  };
}

/** A signal as the reporting logged it (its bulwark_abuse_signal JSON line), with the wall time it was logged. */
export interface LoggedSignal {
  kind: string;
  identityKind?: string;
  identity?: string;
  timeMs: number;
  wallMs: number;
}

/** A refusal by an adaptive Block. */
export const adaptiveRefusal = (r: ReplayReply): boolean => r.status === 403 && (r.reason ?? "").startsWith("adaptive-block");

export interface ProofStack {
  namespace: string;
  issuer: TestIssuer;
  sidecarPort: number;
  /** The signals logged so far (clear it with `signals.length = 0`). */
  signals: LoggedSignal[];
  reporting: TelemetryReporting;
  translation: ReturnType<typeof render>;
  /** A TelemetryReporting like the running one (a restart), with the same options. */
  newReporting: () => TelemetryReporting;
  /** Signs a token for every authenticated subject of the trace (cached). */
  signTokens: (trace: Trace) => Promise<void>;
  tokenOf: (subject: string) => string;
  redis: () => Redis;
  stop: () => Promise<void>;
}

export interface ProofStackOptions {
  namespace: string;
  countryOf: CountryOf;
  /** The API server side of the reporting (absent: signals are only logged and acted on). */
  kubernetes?: TelemetryReportingOptions["kubernetes"];
  /** Keep the analysis in Redis (ANALYSIS_STATE_KEY): one stack at a time may. */
  persist?: boolean;
  /** Envoy's log name. */
  envoyName: string;
}

/** A logger whose bulwark_abuse_signal lines are pushed to `signals`. */
function signalLogger(signals: LoggedSignal[]): Logger {
  return pino(
    { level: "warn" },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString("utf8").split("\n")) {
          if (!line.includes("bulwark_abuse_signal")) continue;
          const r = JSON.parse(line) as { signal: string; identity_kind?: string; identity_value?: string; signal_time: string };
          signals.push({
            kind: r.signal,
            ...(r.identity_kind ? { identityKind: r.identity_kind } : {}),
            ...(r.identity_value ? { identity: r.identity_value } : {}),
            timeMs: Date.parse(r.signal_time),
            wallMs: Date.now(),
          });
        }
        done();
      },
    }),
  );
}

/** The policy object of the proof, in `namespace`. */
export function proofPolicy(namespace: string): ReturnType<typeof policy> {
  return policy({ namespace, name: PROOF_POLICY, created: "2026-01-01T00:00:00Z", spec: policySpec() });
}

export async function startProofStack(options: ProofStackOptions): Promise<ProofStack> {
  const log = pino({ level: "silent" });
  const signals: LoggedSignal[] = [];
  const signalLog = signalLogger(signals);
  const redisClients: Redis[] = [];
  const closers: (() => Promise<unknown>)[] = [];
  const tokens = new Map<string, string>();
  const redis = (): Redis => {
    const r = new Redis(testEnvironment().redisUrl, { maxRetriesPerRequest: 1 });
    redisClients.push(r);
    return r;
  };
  const newReporting = (): TelemetryReporting =>
    new TelemetryReporting({
      log: signalLog,
      registry: new Registry(),
      ...(options.kubernetes ? { kubernetes: options.kubernetes } : {}),
      adaptive: new RedisAdaptiveStore(redis()),
      ...(options.persist ? { redis: redis() } : {}),
      countryOf: options.countryOf,
    });
  const stop = async (): Promise<void> => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
    for (const r of redisClients) r.disconnect();
  };
  try {
    const issuer = await testIssuer();
    const app: Server = createServer((req, res) => {
      req.resume();
      const want = Number(req.headers["x-want-status"] ?? 200);
      res.writeHead(want >= 200 && want < 600 ? want : 200, { "content-type": "application/json" }).end('{"ok":true}');
    });
    app.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", resolve));
    closers.push(() => new Promise((resolve) => app.close(resolve)));
    const appPort = (app.address() as { port: number }).port;
    const sidecarPort = await freePort();
    const input: TranslationInput = {
      policies: [proofPolicy(options.namespace)],
      services: [service(options.namespace, "shop-api", { app: "shop" })],
      pods: [sidecarPod(options.namespace, "shop-api-0", { app: "shop" }, { sidecar: sidecarPort, app: appPort })],
      secrets: [jwksSecret(options.namespace, TEST_JWKS_SECRET, issuer.jwks)],
      now: new Date().toISOString(),
    };

    const reporting = newReporting();
    closers.push(() => reporting.settle());
    const receiver = new TelemetryReceiver({ log, sinks: [(entries) => reporting.sink(entries)] });
    const receiverPort = await receiver.start("127.0.0.1", 0);
    closers.push(() => receiver.stop(100));

    const tables = new RouteTableHolder();
    const counters = new RedisStore({ url: testEnvironment().redisUrl, commandTimeoutMs: 1000 });
    closers.push(() => counters.close());
    tables.swap(buildRouteTable(render(input).ir));
    const authz = new AuthzServer({
      host: "127.0.0.1",
      port: 0,
      tables,
      deps: {
        now: Date.now,
        replay: new MemoryReplayStore(),
        nonces: new DpopNonces(),
        keys: new KeySets().keys,
        adaptive: { actions: new AdaptiveCache(new RedisAdaptiveStore(redis())), counters },
      },
      log,
    });
    const authzPort = await authz.start();
    closers.push(() => authz.stop(100));
    const translation = render(input, {
      ...defaultSettings,
      authz: { host: "127.0.0.1", port: authzPort, timeoutMs: 1000 },
      telemetry: { host: "127.0.0.1", port: receiverPort },
    });
    tables.swap(buildRouteTable(translation.ir));
    const workload = translation.workloads[0];
    if (!workload) throw new Error(`not rendered: ${JSON.stringify(translation.resolution.policies[0]?.accepted)}`);
    reporting.configure(translation);
    const envoy: EnvoyProcess = await startEnvoy(standaloneBootstrap(workload.resources, { nodeId: `shop-api-0.${options.namespace}` }), options.envoyName);
    // Envoy first: it stops streaming before the receiver goes.
    closers.push(() => envoy.stop());
    const tokenOf = (subject: string): string => {
      const token = tokens.get(subject);
      if (!token) throw new Error(`no token for ${subject}`);
      return token;
    };
    const signTokens = async (trace: Trace): Promise<void> => {
      const subjects = new Set(trace.entries.filter((e) => e.authenticated && e.subject).map((e) => e.subject!));
      for (const s of subjects) if (!tokens.has(s)) tokens.set(s, await issuer.sign({ sub: s }, "shop-api"));
    };
    return { namespace: options.namespace, issuer, sidecarPort, signals, reporting, translation, newReporting, signTokens, tokenOf, redis, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
