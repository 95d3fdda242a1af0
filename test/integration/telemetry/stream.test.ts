import { connect } from "node:http2";
import { createServer, request, type IncomingHttpHeaders, type OutgoingHttpHeaders, type Server } from "node:http";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { standaloneBootstrap } from "../../../envoy/bootstrap/standalone-bootstrap.js";
import type { TelemetryEntry } from "../../../contract/telemetry.js";
import type { TranslationInput } from "../../../operator/resolve/objects.js";
import { jwksSecret, policy, service, sidecarPod } from "../../../operator/testdata/objects.js";
import { defaultSettings, render } from "../../../operator/translate/render.js";
import { TelemetryReceiver } from "../../../services/telemetry/receiver.js";
import { buildRouteTable, RouteTableHolder } from "../../../services/authz/config.js";
import { DpopNonces } from "../../../services/authz/dpop-nonce.js";
import { KeySets } from "../../../services/authz/keys.js";
import { MemoryReplayStore } from "../../../services/authz/replay-store.js";
import { AuthzServer } from "../../../services/authz/service.js";
import { frameMessage } from "../../../services/grpc/framing.js";
import { freePort } from "../../env/processes.js";
import { startEnvoy, type EnvoyProcess } from "../../support/envoy-process.js";
import { testAuthentication, testIssuer, TEST_JWKS_SECRET, type TestIssuer } from "../../support/policy-sidecar.js";
import { waitFor } from "../../support/poll.js";
import { accessLogMessage, sampleEntry } from "../../support/telemetry-messages.js";
import { openAccessLogCall } from "../../support/telemetry-stream-client.js";

/**
 * The telemetry stream end to end: requests through a real Envoy sidecar, configured by the real
 * translation of a policy with spec.telemetry, reach the real receiver as TelemetryEntry values,
 * whatever answered them: the app, jwt_authn, RBAC, a client-address refusal, bulwark authz (the
 * minimum app version), a local rate limit or the default-deny 404. The sidecar believes one X-Forwarded-For hop, so the client address
 * is the one the trusted proxy (the test client) names.
 */

const WORKLOAD_PREFIX = "apisecuritypolicy/shop/shop-api/";
const rules = [
  { name: "catalog", authentication: "None", match: { pathPrefix: "/v1/catalog" } },
  { name: "orders", match: { pathPrefix: "/v1/orders" } },
  { name: "admin", match: { pathPrefix: "/v1/admin" }, require: { scopes: ["admin"] } },
  { name: "internal", authentication: "None", match: { pathPrefix: "/v1/internal" }, clientCIDRs: { allow: ["10.0.0.0/8"] } },
  { name: "search", authentication: "None", match: { pathPrefix: "/v1/search" }, rateLimits: [{ name: "shield", scope: "Local", limit: { requests: 1, per: "24h" } }] },
];

let issuer: TestIssuer;
let app: Server;
let envoy: EnvoyProcess | undefined;
let receiver: TelemetryReceiver;
let authz: AuthzServer | undefined;
let receiverPort: number;
let sidecarPort: number;
const received: TelemetryEntry[] = [];

function send(options: { path: string; method?: string; headers?: OutgoingHttpHeaders }): Promise<{ status: number; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: sidecarPort, path: options.path, method: options.method ?? "GET", agent: false, headers: options.headers ?? {} }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** Waits for the entry of the one request whose path is `path` (the sidecar flushes about once a second). */
function entryFor(path: string): Promise<TelemetryEntry> {
  return waitFor(`the telemetry entry of ${path}`, () => received.find((e) => e.path === path), 15_000);
}

const client = { "x-forwarded-for": "198.51.100.23", "x-device-id": "device-abc", "x-app-version": "4.3.1", "x-app-platform": "ios" };

beforeAll(async () => {
  issuer = await testIssuer();
  app = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { "content-type": "text/plain" }).end("hello from the app");
  });
  await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", resolve));
  const appAddress = app.address();
  if (!appAddress || typeof appAddress !== "object") throw new Error("the app has no port");
  receiver = new TelemetryReceiver({
    log: pino({ level: "silent" }),
    sinks: [
      () => {
        throw new Error("a broken sink");
      },
      (entries) => received.push(...entries),
    ],
  });
  receiverPort = await receiver.start("127.0.0.1", 0);
  sidecarPort = await freePort();
  const input: TranslationInput = {
    policies: [
      policy({
        name: "shop-api",
        created: "2026-01-01T00:00:00Z",
        spec: {
          targetRefs: [{ kind: "Service", name: "shop-api" }],
          authentication: testAuthentication("shop-api"),
          rules,
          clientAddress: { trustedHops: 1 },
          mobile: { minAppVersion: { minimum: "4.2.0" } },
          telemetry: { deviceHeader: "X-Device-Id" },
        },
      }),
    ],
    services: [service("shop", "shop-api", { app: "shop" })],
    pods: [sidecarPod("shop", "shop-api-0", { app: "shop" }, { sidecar: sidecarPort, app: appAddress.port })],
    secrets: [jwksSecret("shop", TEST_JWKS_SECRET, issuer.jwks)],
    now: new Date().toISOString(),
  };
  const tables = new RouteTableHolder();
  tables.swap(buildRouteTable(render(input).ir));
  authz = new AuthzServer({
    host: "127.0.0.1",
    port: 0,
    tables,
    deps: { now: Date.now, replay: new MemoryReplayStore(), nonces: new DpopNonces({ secret: "the-telemetry-test-nonce-secret" }), keys: new KeySets().keys },
    log: pino({ level: "silent" }),
  });
  const authzPort = await authz.start();
  const rendered = render(input, { ...defaultSettings, authz: { host: "127.0.0.1", port: authzPort, timeoutMs: 1000 }, telemetry: { host: "127.0.0.1", port: receiverPort } });
  const workload = rendered.workloads[0];
  if (!workload) throw new Error(`not rendered: ${JSON.stringify(rendered.resolution.policies[0]?.accepted)}`);
  envoy = await startEnvoy(standaloneBootstrap(workload.resources, { nodeId: "shop-api-0.shop" }), "envoy-telemetry");
}, 60_000);

afterAll(async () => {
  await envoy?.stop();
  await receiver?.stop();
  await authz?.stop(100);
  await new Promise((resolve) => app?.close(resolve));
});

describe("the telemetry stream through a real Envoy sidecar", () => {
  it("reports an authenticated request the app answered, with subject, device, version, platform and the trusted client address", async () => {
    const token = await issuer.sign({ sub: "user-17" }, "shop-api");
    const reply = await send({ path: "/v1/orders/42?expand=items", headers: { ...client, authorization: `Bearer ${token}` } });
    expect(reply.status).toBe(200);
    const entry = await entryFor("/v1/orders/42");
    expect(entry).toMatchObject({
      workload: `${WORKLOAD_PREFIX}ports/${sidecarPort}-${(app.address() as { port: number }).port}`,
      sidecar: "shop-api-0.shop",
      route: `${WORKLOAD_PREFIX}rule/orders`,
      method: "GET",
      status: 200,
      authenticated: true,
      subject: "user-17",
      device: "device-abc",
      appVersion: "4.3.1",
      platform: "ios",
      clientAddress: "198.51.100.23",
    });
    expect(entry.reason).toBeUndefined();
    expect(entry.responseBytes).toBeGreaterThan("hello from the app".length);
    expect(entry.latencyMs).toBeGreaterThanOrEqual(0);
    expect(Math.abs(entry.timeMs - Date.now())).toBeLessThan(60_000);
  });

  it("reports refusals by jwt_authn, RBAC, the client-address check, bulwark authz (app version), a local rate limit and the default-deny 404", async () => {
    const plain = await issuer.sign({ sub: "user-18", scope: "orders:read" }, "shop-api");
    const replies = {
      jwt: await send({ path: "/v1/orders/7", headers: client }),
      rbac: await send({ path: "/v1/admin/users", headers: { ...client, authorization: `Bearer ${plain}` } }),
      cidr: await send({ path: "/v1/internal/flags", headers: client }),
      first: await send({ path: "/v1/search/first", headers: client }),
      limited: await send({ path: "/v1/search/second", headers: client }),
      missing: await send({ path: "/v1/shadow/export", method: "POST", headers: client }),
      outdated: await send({ path: "/v1/catalog/old-app", headers: { ...client, "x-app-version": "3.9.0" } }),
    };
    expect(Object.fromEntries(Object.entries(replies).map(([k, r]) => [k, r.status]))).toEqual({
      jwt: 401,
      rbac: 403,
      cidr: 403,
      first: 200,
      limited: 429,
      missing: 404,
      outdated: 426,
    });

    const jwt = await entryFor("/v1/orders/7");
    expect(jwt).toMatchObject({ route: `${WORKLOAD_PREFIX}rule/orders`, status: 401, authenticated: false, device: "device-abc", clientAddress: "198.51.100.23" });
    expect(jwt.reason).toMatch(/^jwt_authn_access_denied/);
    const rbac = await entryFor("/v1/admin/users");
    expect(rbac).toMatchObject({ route: `${WORKLOAD_PREFIX}rule/admin`, status: 403, authenticated: true, subject: "user-18" });
    expect(rbac.reason).toMatch(/^rbac_access_denied/);
    const cidr = await entryFor("/v1/internal/flags");
    expect(cidr).toMatchObject({ route: `${WORKLOAD_PREFIX}rule/internal`, status: 403, reason: replies.cidr.headers["x-bulwark-reason"] });
    expect(cidr.reason).toBe("client_address_denied");
    const limited = await entryFor("/v1/search/second");
    expect(limited).toMatchObject({ route: `${WORKLOAD_PREFIX}rule/search`, status: 429 });
    expect(limited.reason).toBe("local_rate_limited");
    const missing = await entryFor("/v1/shadow/export");
    expect(missing).toMatchObject({ route: `${WORKLOAD_PREFIX}default`, method: "POST", status: 404, appVersion: "4.3.1", platform: "ios" });
    expect(missing.reason).toBe("direct_response");
    const outdated = await entryFor("/v1/catalog/old-app");
    expect(outdated).toMatchObject({ route: `${WORKLOAD_PREFIX}rule/catalog`, status: 426, reason: "app_version_outdated", appVersion: "3.9.0", platform: "ios" });
    expect(replies.outdated.headers["x-bulwark-reason"]).toBe("app_version_outdated");
    // The broken sink failed on every batch; the stream and the other sink went on.
    expect(receiver.stats.sinkErrors).toBeGreaterThan(0);
  });

  it("survives garbage, oversized messages and foreign log names, and keeps receiving from the sidecar", async () => {
    const session = connect(`http://127.0.0.1:${receiverPort}`);
    session.on("error", () => undefined);
    const call = (body: Buffer): Promise<string | undefined> =>
      new Promise((resolve) => {
        const stream = openAccessLogCall(session);
        let status: string | undefined;
        stream.on("response", (headers: Record<string, unknown>) => (status ??= headers["grpc-status"] as string | undefined));
        stream.on("trailers", (trailers: Record<string, unknown>) => (status = trailers["grpc-status"] as string | undefined));
        stream.on("close", () => resolve(status));
        stream.end(body);
      });
    const decodeErrors = receiver.stats.decodeErrors;
    // Not protobuf: INTERNAL.
    expect(await call(frameMessage(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x02])))).toBe(String(13));
    // A frame that says it is 100 MiB: refused from its header (RESOURCE_EXHAUSTED), nothing buffered.
    const header = Buffer.alloc(5);
    header.writeUInt32BE(100 * 1024 * 1024, 1);
    expect(await call(header)).toBe(String(8));
    // A stream that is not a telemetry log: INVALID_ARGUMENT, its entries not delivered.
    const foreign = Buffer.from(accessLogMessage({ logName: "bulwark-outcomes", entries: [sampleEntry({ path: "/foreign" })] }));
    expect(await call(frameMessage(foreign))).toBe(String(3));
    session.close();
    expect(receiver.stats.decodeErrors).toBeGreaterThanOrEqual(decodeErrors + 2);
    expect(received.some((e) => e.path === "/foreign")).toBe(false);

    expect((await send({ path: "/v1/catalog/after-garbage", headers: client })).status).toBe(200);
    expect(await entryFor("/v1/catalog/after-garbage")).toMatchObject({ route: `${WORKLOAD_PREFIX}rule/catalog`, status: 200, authenticated: false });
  });

  it("keeps answering while the receiver is down, and the stream resumes when it is back on the same address", async () => {
    await receiver.stop(100);
    for (let i = 0; i < 5; i++) expect((await send({ path: `/v1/catalog/while-down-${i}`, headers: client })).status).toBe(200);
    receiverPort = await receiver.start("127.0.0.1", receiverPort);
    // Envoy opens a new stream on a later flush; entries sent while it was down are dropped by design.
    const entry = await waitFor(
      "an entry after the receiver came back",
      async () => {
        await send({ path: "/v1/catalog/after-restart", headers: client });
        return received.find((e) => e.path === "/v1/catalog/after-restart");
      },
      30_000,
      1000,
    );
    expect(entry).toMatchObject({ route: `${WORKLOAD_PREFIX}rule/catalog`, status: 200, sidecar: "shop-api-0.shop" });
  });
});
