import { createServer, type Server } from "node:http";
import { Writable } from "node:stream";
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { Redis } from "ioredis";
import { pino } from "pino";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TelemetryEntry } from "../../../contract/telemetry.js";
import { standaloneBootstrap } from "../../../envoy/bootstrap/standalone-bootstrap.js";
import type { TranslationInput } from "../../../operator/resolve/objects.js";
import { jwksSecret, policy, service, sidecarPod } from "../../../operator/testdata/objects.js";
import { defaultSettings, render } from "../../../operator/translate/render.js";
import { RedisAdaptiveStore } from "../../../services/adaptive/redis-store.js";
import { AdaptiveCache } from "../../../services/authz/adaptive-cache.js";
import { buildRouteTable, RouteTableHolder } from "../../../services/authz/config.js";
import { DpopNonces } from "../../../services/authz/dpop-nonce.js";
import { KeySets } from "../../../services/authz/keys.js";
import { MemoryReplayStore } from "../../../services/authz/replay-store.js";
import { AuthzServer } from "../../../services/authz/service.js";
import { RedisStore } from "../../../services/ratelimit/redis-store.js";
import { KubernetesReporter } from "../../../services/telemetry/kubernetes-reporter.js";
import { TelemetryReceiver } from "../../../services/telemetry/receiver.js";
import { ANALYSIS_STATE_KEY, TelemetryReporting } from "../../../services/telemetry/reporting.js";
import { dbipCountryOf } from "../../../services/telemetry/signals/country.js";
import { freePort } from "../../env/processes.js";
import { installCrds } from "../../support/crds.js";
import { startEnvoy, type EnvoyProcess } from "../../support/envoy-process.js";
import { adminKubeConfig, testEnvironment, uniqueName } from "../../support/environment.js";
import { kubectl } from "../../support/kubectl.js";
import { testAuthentication, testIssuer, TEST_JWKS_SECRET, type TestIssuer } from "../../support/policy-sidecar.js";
import { waitFor } from "../../support/poll.js";
import { replayTrace, type ReplayReply } from "../../support/trace-replay.js";
import { generateTrace, type Trace } from "../../support/traffic-trace.js";

/**
 * The proof of #15 through real sidecars: a policy with spec.telemetry, Login and Payment rules, a
 * deprecated prefix and the default-deny 404, an OpenAPI document in a ConfigMap and an adaptive
 * response; a real Envoy (the offline translation), a real bulwark authz reading the blocks from
 * the real Redis, the real receiver feeding TelemetryReporting in this process, which writes to the
 * real API server. Seeded traces (test/support/traffic-trace.ts) are replayed in real time through
 * the sidecar: attacks mixed with benign users are seen within 10 s and the attackers refused; a
 * benign trace of 100,000 requests fires nothing; a restarted reporting restores from Redis.
 */

const NS = uniqueName("proof");
const NAME = "shop-api";
/**
 * The benign trace's users. 4,800 users make the 100,000 requests of the proof (run it so:
 * BULWARK_PROOF_USERS=4800 BULWARK_PROOF_MIN=100000); on the shared 2-core machine the whole stack
 * (client, app, authz, receiver and analysis in this process, plus Envoy) serves about 400
 * requests/s, so that takes about 4 minutes. By default a quarter of it, replayed in real time.
 */
const BENIGN_USERS = Number(process.env.BULWARK_PROOF_USERS ?? 1200);
const BENIGN_MIN = Number(process.env.BULWARK_PROOF_MIN ?? 20_000);
const countryOf = dbipCountryOf();

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

/** The service's document: what the rules let through, without the planted shadow (/v1/internal/export) and zombie (/v0/feed). */
const OPENAPI_OPERATIONS: [string, string][] = [
  ["POST", "/v1/login"],
  ["POST", "/v1/payments"],
  ["GET", "/v1/feed"],
  ["GET", "/v1/search"],
  ["GET", "/v1/products/{productId}"],
  ["GET", "/v1/products/{productId}/reviews"],
  ["GET", "/v1/sellers/{sellerId}"],
  ["GET", "/v1/cart"],
  ["GET", "/v1/profile"],
  ["GET", "/v1/users/{userId}/orders"],
  ["GET", "/v1/users/{userId}/orders/{orderId}"],
];
const openApiDocument = {
  openapi: "3.0.3",
  info: { title: "shop", version: "1" },
  paths: Object.fromEntries(
    [...new Set(OPENAPI_OPERATIONS.map(([, p]) => p))].map((path) => [
      path,
      Object.fromEntries(OPENAPI_OPERATIONS.filter(([, p]) => p === path).map(([m]) => [m.toLowerCase(), { responses: { "200": { description: "ok" } } }])),
    ]),
  ),
};

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

interface Signal {
  kind: string;
  identityKind?: string;
  identity?: string;
  timeMs: number;
  wallMs: number;
}

const log = pino({ level: "silent" });
const signals: Signal[] = [];
/** Captures the reporting's JSON log: its signals (bulwark_abuse_signal), with the wall time they were logged. */
const signalLog = pino(
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

let issuer: TestIssuer;
let app: Server;
let envoy: EnvoyProcess | undefined;
let receiver: TelemetryReceiver;
let authz: AuthzServer | undefined;
let reporting: TelemetryReporting;
let translation: ReturnType<typeof render>;
let sidecarPort: number;
const redisClients: Redis[] = [];
const closers: (() => Promise<unknown>)[] = [];
const tokens = new Map<string, string>();
const custom = (): CustomObjectsApi => adminKubeConfig().makeApiClient(CustomObjectsApi);

const sleep = (ms: number): Promise<unknown> => new Promise((r) => setTimeout(r, ms));
const tokenOf = (subject: string): string => {
  const token = tokens.get(subject);
  if (!token) throw new Error(`no token for ${subject}`);
  return token;
};
async function signTokens(trace: Trace): Promise<void> {
  const subjects = new Set(trace.entries.filter((e) => e.authenticated && e.subject).map((e) => e.subject!));
  for (const s of subjects) if (!tokens.has(s)) tokens.set(s, await issuer.sign({ sub: s }, "shop-api"));
}
const redis = (): Redis => {
  const r = new Redis(testEnvironment().redisUrl, { maxRetriesPerRequest: 1 });
  redisClients.push(r);
  return r;
};
const newReporting = (): TelemetryReporting =>
  new TelemetryReporting({
    log: signalLog,
    registry: new Registry(),
    kubernetes: new KubernetesReporter(adminKubeConfig(), log),
    adaptive: new RedisAdaptiveStore(redis()),
    redis: redis(),
    countryOf,
  });

beforeAll(async () => {
  await installCrds();
  await kubectl(["create", "namespace", NS]);
  issuer = await testIssuer();
  app = createServer((req, res) => {
    req.resume();
    const want = Number(req.headers["x-want-status"] ?? 200);
    res.writeHead(want >= 200 && want < 600 ? want : 200, { "content-type": "application/json" }).end('{"ok":true}');
  });
  app.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", resolve));
  const appPort = (app.address() as { port: number }).port;
  sidecarPort = await freePort();
  const policyObject = policy({ namespace: NS, name: NAME, created: "2026-01-01T00:00:00Z", spec: policySpec() });
  const input: TranslationInput = {
    policies: [policyObject],
    services: [service(NS, "shop-api", { app: "shop" })],
    pods: [sidecarPod(NS, "shop-api-0", { app: "shop" }, { sidecar: sidecarPort, app: appPort })],
    secrets: [jwksSecret(NS, TEST_JWKS_SECRET, issuer.jwks)],
    now: new Date().toISOString(),
  };
  // The policy and its document in the API server: status, Events and the APIInventory land there.
  const { metadata, ...rest } = policyObject as { metadata: Record<string, unknown> };
  await custom().createNamespacedCustomObject({
    group: "bulwark.dev",
    version: "v1alpha1",
    plural: "apisecuritypolicies",
    namespace: NS,
    body: { ...rest, metadata: { name: NAME, namespace: NS } },
  });
  await adminKubeConfig()
    .makeApiClient(CoreV1Api)
    .createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: "shop-openapi" }, data: { "openapi.json": JSON.stringify(openApiDocument) } } });

  reporting = newReporting();
  receiver = new TelemetryReceiver({ log, sinks: [(entries) => reporting.sink(entries)] });
  const receiverPort = await receiver.start("127.0.0.1", 0);

  const tables = new RouteTableHolder();
  const actions = new RedisAdaptiveStore(redis());
  const counters = new RedisStore({ url: testEnvironment().redisUrl, commandTimeoutMs: 1000 });
  closers.push(() => counters.close());
  const offline = render(input);
  tables.swap(buildRouteTable(offline.ir));
  authz = new AuthzServer({
    host: "127.0.0.1",
    port: 0,
    tables,
    deps: { now: Date.now, replay: new MemoryReplayStore(), nonces: new DpopNonces(), keys: new KeySets().keys, adaptive: { actions: new AdaptiveCache(actions), counters } },
    log,
  });
  const authzPort = await authz.start();
  translation = render(input, { ...defaultSettings, authz: { host: "127.0.0.1", port: authzPort, timeoutMs: 1000 }, telemetry: { host: "127.0.0.1", port: receiverPort } });
  tables.swap(buildRouteTable(translation.ir));
  const workload = translation.workloads[0];
  if (!workload) throw new Error(`not rendered: ${JSON.stringify(translation.resolution.policies[0]?.accepted)}`);
  reporting.configure(translation);
  // A first report reads the document and learns the policy's uid (Events name it).
  await reporting.report();
  envoy = await startEnvoy(standaloneBootstrap(workload.resources, { nodeId: "shop-api-0.shop" }), "envoy-attacks");
}, 120_000);

afterAll(async () => {
  await envoy?.stop();
  await receiver?.stop(100);
  await authz?.stop(100);
  await reporting?.settle();
  for (const c of closers) await c().catch(() => undefined);
  for (const r of redisClients) r.disconnect();
  await new Promise((resolve) => app?.close(resolve));
  await kubectl(["delete", "namespace", NS, "--wait=false"]).catch(() => undefined);
});

const TRACE_START = Date.UTC(2026, 11, 3, 9, 0, 0);
const adaptiveRefusal = (r: ReplayReply): boolean => r.status === 403 && (r.reason ?? "").startsWith("adaptive-block");

describe("attacks and benign users through a real sidecar, seen by bulwark telemetry and refused by bulwark authz", { timeout: 300_000 }, () => {
  let mixed: Trace;
  let replies: ReplayReply[] = [];
  let wallStart = 0;
  const planted = { shadow: "/v1/internal/export", zombie: "/v0/feed" };

  it("sees credential stuffing, card testing, enumeration and scraping within 10 s, and refuses the attackers the policy blocks, not the benign users", async () => {
    // One minute of trace: 800 users, the attacks at their usual shares of it; cut once the last attack has had 12 s.
    mixed = generateTrace({ seed: 20261204, users: 800, durationMs: 60_000, startMs: TRACE_START, attacks: ["enumeration", "stuffing", "cardTesting", "scraping"], countryOf });
    // Each attack from its own addresses (with some seeds the card tester shares a stuffer's address and is refused for stuffing first).
    const addresses = mixed.attacks.map(
      (a) => new Set(mixed.entries.filter((e) => a.identities.some((i) => [e.subject, e.device, e.clientAddress].includes(i.value))).map((e) => e.clientAddress)),
    );
    expect(addresses.reduce((n, set) => n + set.size, 0)).toBe(new Set(addresses.flatMap((set) => [...set])).size);
    const lastStart = Math.max(...mixed.attacks.map((a) => a.startMs));
    const cut = lastStart + 12_000;
    const who = {
      clientAddress: "203.0.113.77",
      device: "planted-device",
      appVersion: "4.2.0",
      platform: "ios",
      authenticated: false,
      workload: "",
      route: "",
      latencyMs: 0,
      requestBytes: 0,
      responseBytes: 0,
    };
    const plantedEntries: TelemetryEntry[] = [1000, 4000, 9000].flatMap((t) => [
      { ...who, method: "GET", path: planted.shadow, status: 200, timeMs: TRACE_START + t },
      { ...who, method: "GET", path: planted.zombie, status: 200, timeMs: TRACE_START + t + 100 },
    ]);
    const entries = [...mixed.entries.filter((e) => e.timeMs < cut), ...plantedEntries].sort((a, b) => a.timeMs - b.timeMs);
    await signTokens(mixed);
    signals.length = 0;
    wallStart = Date.now() + 500;
    const result = await replayTrace(entries, { port: sidecarPort, traceStartMs: TRACE_START, wallStartMs: wallStart, tokenOf });
    replies = result.replies;
    console.log(
      `PROOF mixed replay: ${entries.length} requests in ${(result.elapsedMs / 1000).toFixed(1)} s, sender max lag ${result.maxLagMs} ms, ${result.errors} errors, load average ${(
        await import("node:os")
      )
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(" ")}`,
    );
    expect(result.errors).toBe(0);
    await sleep(2500); // the sidecar flushes about once a second
    await reporting.settle();

    const attackerIds = new Set(mixed.attacks.flatMap((a) => a.identities.map((i) => i.value)));
    const attackerOf = (r: ReplayReply): boolean => [r.entry.clientAddress, r.entry.subject, r.entry.device].some((v) => v !== undefined && attackerIds.has(v));
    const rows: string[] = [];
    const checks: (() => void)[] = [];
    for (const attack of mixed.attacks) {
      const theirs = replies.filter((r) => attack.identities.some((i) => [r.entry.clientAddress, r.entry.subject, r.entry.device].includes(i.value)));
      // The attack started when its first request was actually sent (the sender may lag the schedule under load).
      const startWall = Math.min(...theirs.map((r) => r.sentMs));
      const seen = signals.find((s) => s.kind === attack.signal && attack.identities.some((i) => i.kind === s.identityKind && i.value === s.identity));
      const afterWall = seen ? (seen.wallMs - startWall) / 1000 : Infinity;
      const afterEntry = seen ? (seen.timeMs - startWall) / 1000 : Infinity;
      const later = seen ? theirs.filter((r) => r.sentMs > seen.wallMs + 2000) : [];
      const refused = later.filter(adaptiveRefusal).length;
      rows.push(
        `PROOF detection ${attack.name.padEnd(12)} ${attack.signal.padEnd(18)} ${afterWall.toFixed(2)} s after it started (wall; ${afterEntry.toFixed(2)} s by the entry's START_TIME); attacker requests after detection + 2 s: ${later.length}, refused adaptive-block: ${refused}`,
      );
      if (!(afterWall < 10))
        rows.push(
          `  ${attack.name} replies: ${[...theirs]
            .sort((x, y) => x.sentMs - y.sentMs)
            .slice(0, 16)
            .map((r) => `${((r.sentMs - startWall) / 1000).toFixed(1)}s:${r.status}${r.reason ? `(${r.reason})` : ""}`)
            .join(" ")}`,
        );
      checks.push(() => {
        expect(afterWall, `${attack.name} seen within 10 s`).toBeLessThan(10);
        if (attack.signal === "Scraping") {
          // Shadow mode: recorded, nobody refused.
          expect(theirs.filter(adaptiveRefusal)).toEqual([]);
        } else {
          expect(later.length, `${attack.name}: requests after the block`).toBeGreaterThan(0);
          expect(refused, `${attack.name}: refused by the sidecar`).toBe(later.length);
        }
      });
    }
    console.log(rows.join("\n"));
    for (const check of checks) check();
    const benignRefused = replies.filter((r) => !attackerOf(r) && adaptiveRefusal(r));
    const benign = replies.filter((r) => !attackerOf(r)).length;
    console.log(`PROOF mixed replay: benign requests ${benign}, refused adaptive-block ${benignRefused.length}`);
    expect(benignRefused).toEqual([]);
    expect(replies.filter((r) => r.entry.path === planted.shadow).map((r) => r.status)).toEqual([404, 404, 404]);
  });

  it("writes the APIInventory (the planted shadow and zombie endpoints, the rest as the OpenAPI document), status.traffic and Warning Events", async () => {
    const started = Date.now();
    await reporting.report();
    const reportMs = Date.now() - started;
    const shadowWall = wallStart + 1000;
    const inventory = (await custom().getNamespacedCustomObject({ group: "bulwark.dev", version: "v1alpha1", plural: "apiinventories", namespace: NS, name: NAME })) as {
      status: { summary: Record<string, number>; workloads: { endpoints: { method: string; path: string; class: string; count: number }[] }[] };
    };
    const endpoints = inventory.status.workloads.flatMap((w) => w.endpoints);
    console.log(
      `PROOF inventory: report() took ${reportMs} ms; shadow and zombie in the APIInventory ${((Date.now() - shadowWall) / 1000).toFixed(1)} s after first called (a report runs every interval; here driven by the test); summary ${JSON.stringify(inventory.status.summary)}`,
    );
    const of = (cls: string): string[] =>
      endpoints
        .filter((e) => e.class === cls)
        .map((e) => `${e.method} ${e.path}`)
        .sort();
    // The planted endpoint, and what the crawler probed below the exact /v1/search rule (the default 404 answered it).
    expect(of("shadow")).toEqual([`GET ${planted.shadow}`, "GET /v1/search/{param}"]);
    expect(of("zombie")).toEqual([`GET ${planted.zombie}`]);
    expect([...of("documented"), ...of("unused")].sort()).toEqual(OPENAPI_OPERATIONS.map(([m, p]) => `${m} ${p}`).sort());
    expect(of("documented").length).toBeGreaterThanOrEqual(10);

    const stored = (await custom().getNamespacedCustomObject({ group: "bulwark.dev", version: "v1alpha1", plural: "apisecuritypolicies", namespace: NS, name: NAME })) as {
      status?: { traffic?: { shadow?: number; zombie?: number; blocked?: number; shadowActions?: number; signals?: { kind: string; count: number }[] } };
    };
    const traffic = stored.status?.traffic;
    console.log(`PROOF status.traffic: ${JSON.stringify(traffic)}`);
    expect(traffic?.shadow).toBe(2);
    expect(traffic?.zombie).toBe(1);
    // 3 stuffing addresses, the card tester, the enumerator; the scraper in Shadow mode.
    expect(traffic?.blocked).toBeGreaterThanOrEqual(5);
    expect(traffic?.shadowActions).toBeGreaterThanOrEqual(1);
    expect(new Set(traffic?.signals?.map((s) => s.kind))).toEqual(new Set(["CredentialStuffing", "CardTesting", "Enumeration", "Scraping"]));

    const events = await waitFor(
      "Warning Events on the policy",
      async () => {
        const list = await adminKubeConfig().makeApiClient(CoreV1Api).listNamespacedEvent({ namespace: NS });
        const warnings = list.items.filter((e) => e.type === "Warning" && e.involvedObject.name === NAME && e.involvedObject.kind === "APISecurityPolicy");
        return warnings.length >= 4 ? warnings : undefined;
      },
      15_000,
    );
    expect(new Set(events.map((e) => e.reason))).toEqual(new Set(["CredentialStuffing", "CardTesting", "Enumeration", "Scraping"]));
  });

  it(`fires nothing and refuses nobody on a benign trace from ${BENIGN_USERS} users (100,000 requests with 4,800)`, async () => {
    const benign = generateTrace({ seed: 424242, users: BENIGN_USERS, durationMs: 60_000, startMs: TRACE_START, countryOf });
    const entries = benign.entries.filter((e) => e.timeMs < TRACE_START + 70_000);
    await signTokens(benign);
    signals.length = 0;
    const start = Date.now() + 500;
    const result = await replayTrace(entries, { port: sidecarPort, traceStartMs: TRACE_START, wallStartMs: start, tokenOf, sockets: 64 });
    await sleep(2500);
    await reporting.settle();
    const os = await import("node:os");
    const refused = result.replies.filter(adaptiveRefusal);
    const rate = signals.length / entries.length;
    console.log(
      `PROOF benign replay: ${entries.length} requests from ${new Set(entries.map((e) => e.device)).size} devices, ${new Set(entries.map((e) => e.appVersion)).size} app versions, in ${(result.elapsedMs / 1000).toFixed(1)} s (${Math.round(entries.length / (result.elapsedMs / 1000))} req/s, sender max lag ${result.maxLagMs} ms, ${result.errors} errors), load average ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(" ")}`,
    );
    console.log(`PROOF benign replay: signals ${signals.length}, adaptive refusals ${refused.length}, false-positive rate ${rate} per request`);
    for (const s of signals) console.log(`  false positive: ${s.kind} ${s.identityKind} ${s.identity}`);
    expect(entries.length).toBeGreaterThanOrEqual(BENIGN_MIN);
    expect(result.errors).toBe(0);
    expect(signals).toEqual([]);
    expect(refused).toEqual([]);
  });

  it("restores the inventory and the baselines into a new TelemetryReporting from Redis", async () => {
    await reporting.report();
    const saved = await redisClients[0]!.get(ANALYSIS_STATE_KEY);
    expect(saved).not.toBeNull();
    const restarted = newReporting();
    restarted.configure(translation);
    const started = performance.now();
    await restarted.restore();
    const ms = performance.now() - started;
    console.log(`PROOF restore: ${(saved!.length / 1024).toFixed(0)} KiB of analysis restored from Redis in ${ms.toFixed(0)} ms`);
    expect(JSON.stringify(restarted.analysis.state())).toBe(saved);
    // The baselines (the workload's failed-auth rate) are kept; per-caller windows are not saved (minutes long, learned again).
    expect(restarted.analysis.sizes().signals.FailedAuthSpike).toEqual(reporting.analysis.sizes().signals.FailedAuthSpike);
    expect(reporting.analysis.sizes().signals.FailedAuthSpike).toEqual({ workloads: 1 });
    // Its first report reads the OpenAPI document again; the classification is then the same.
    await restarted.report();
    expect(restarted.analysis.inventories()).toEqual(reporting.analysis.inventories());
  });
});
