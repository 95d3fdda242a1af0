import { mkdtemp, writeFile } from "node:fs/promises";
import { createServer, request, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { Redis } from "ioredis";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { standaloneBootstrap } from "../../../envoy/bootstrap/standalone-bootstrap.js";
import type { TranslationSettings, WorkloadIR } from "../../../contract/ir.js";
import type { AdaptiveAction, IdentityKind, SignalEvent } from "../../../contract/telemetry.js";
import { render } from "../../../operator/translate/render.js";
import { jwksSecret, policy, service, sidecarPod } from "../../../operator/testdata/objects.js";
import type { TranslationInput } from "../../../operator/resolve/objects.js";
import { applySignal } from "../../../services/adaptive/apply.js";
import { RedisAdaptiveStore } from "../../../services/adaptive/redis-store.js";
import { AdaptiveCache } from "../../../services/authz/adaptive-cache.js";
import { RouteTableHolder, buildRouteTable } from "../../../services/authz/config.js";
import { DpopNonces } from "../../../services/authz/dpop-nonce.js";
import { KeySets } from "../../../services/authz/keys.js";
import { MemoryReplayStore } from "../../../services/authz/replay-store.js";
import { AuthzServer } from "../../../services/authz/service.js";
import { RedisStore } from "../../../services/ratelimit/redis-store.js";
import { freePort } from "../../env/processes.js";
import { TestIssuer } from "../../support/authz-client.js";
import { startEnvoy, type EnvoyProcess } from "../../support/envoy-process.js";
import { testEnvironment } from "../../support/environment.js";
import { waitFor } from "../../support/poll.js";
import { runBulwark } from "../../support/bulwark-cli.js";
import { startAuthzProcess, type AuthzProcess } from "../../support/authz-process.js";

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

const ISSUER = "https://id.example.com/";
const AUDIENCE = "shop-api";
/** A namespace of its own: the Redis keys of this run's policy are its own. */
const NS = `adaptive-${Date.now().toString(36)}`;
const POLICY = { namespace: NS, name: "shop" };

function send(options: { port: number; path: string; headers?: Record<string, string>; from?: string }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port: options.port, path: options.path, headers: { host: "shop.test", ...options.headers }, localAddress: options.from ?? "127.0.0.1", agent: false },
      (res) => {
        let body = "";
        res.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

function policyInput(jwks: unknown, ports: { sidecar: number; app: number }): TranslationInput {
  return {
    policies: [
      policy({
        namespace: NS,
        name: POLICY.name,
        created: "2026-01-01T00:00:00Z",
        spec: {
          targetRefs: [{ kind: "Service", name: "shop-api" }],
          // One proxy in front: the client is the last X-Forwarded-For entry (the peer when there is none).
          clientAddress: { trustedHops: 1 },
          authentication: { jwt: { providers: [{ name: "idp", issuer: ISSUER, audiences: [AUDIENCE], jwks: { secretRef: { name: "idp-jwks" } } }] } },
          rules: [
            { name: "profile", match: { pathPrefix: "/v1/profile" } },
            { name: "catalog", match: { pathPrefix: "/v1/catalog" }, authentication: "None" },
          ],
          // Signals come from the telemetry stream (no receiver here: the actions are flagged by the test).
          telemetry: { enabled: true },
          adaptiveResponse: {
            deviceHeader: "X-Device-Id",
            rules: [
              { signal: "CredentialStuffing", identity: "ClientAddress", action: "Block", duration: "10m" },
              { signal: "Scraping", identity: "Device", action: "Block", duration: "10m", mode: "Shadow" },
              { signal: "CardTesting", identity: "Account", action: "Block", duration: "10m" },
              { signal: "Enumeration", identity: "Account", action: "Throttle", duration: "10m", limit: { requests: 2, per: "1m" } },
            ],
          },
        },
      }),
    ],
    services: [service(NS, "shop-api", { app: "shop" })],
    pods: [sidecarPod(NS, "shop-1", { app: "shop" }, ports)],
    secrets: [jwksSecret(NS, "idp-jwks", jwks)],
    now: new Date().toISOString(),
  };
}

/** The objects of `input` as YAML files, for `bulwark authz -f`. */
async function objectFiles(input: TranslationInput): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "bulwark-adaptive-"));
  const objects = [...input.policies, ...input.services, ...input.pods, ...input.secrets];
  await Promise.all(objects.map((o, i) => writeFile(join(dir, `${i}.yaml`), stringify(o))));
  return dir;
}

/**
 * Real Envoy sidecars (rendered from a policy with adaptiveResponse) in front of an app, each
 * calling its own bulwark authz: replica a in process, replica b the `bulwark authz` command
 * (reading the same objects, with --redis-url). The two share the real Redis, where the actions
 * are flagged, expire and are cleared.
 */
describe("adaptive response behind real Envoy: blocks and throttles from Redis, on every route, across replicas", () => {
  const log = pino({ level: "silent" });
  let app: Server;
  const seen: Record<string, string | undefined>[] = [];
  let idp: TestIssuer;
  const authz: AuthzServer[] = [];
  let authzProcess: AuthzProcess | undefined;
  const envoys: EnvoyProcess[] = [];
  const listeners: number[] = [];
  const closers: (() => Promise<unknown>)[] = [];
  let store: RedisAdaptiveStore;
  let workload: WorkloadIR;

  /** Replica a: AuthzServer in this process, with the stores the command builds. */
  async function inProcessAuthz(rendered: ReturnType<typeof render>["ir"]): Promise<number> {
    const tables = new RouteTableHolder();
    tables.swap(buildRouteTable(rendered));
    const actions = new RedisAdaptiveStore(new Redis(testEnvironment().redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1 }));
    const counters = new RedisStore({ url: testEnvironment().redisUrl, commandTimeoutMs: 1000 });
    closers.push(
      () => actions.close(),
      () => counters.close(),
    );
    const server = new AuthzServer({
      host: "127.0.0.1",
      port: 0,
      tables,
      deps: { now: Date.now, replay: new MemoryReplayStore(), nonces: new DpopNonces(), keys: new KeySets().keys, adaptive: { actions: new AdaptiveCache(actions), counters } },
      log,
    });
    const port = await server.start();
    authz.push(server);
    return port;
  }

  /** Replica b: the bulwark authz command, as the chart runs it. */
  async function commandAuthz(input: TranslationInput): Promise<number> {
    authzProcess = await startAuthzProcess({ files: [await objectFiles(input)], redisUrl: testEnvironment().redisUrl, logLevel: "warn" });
    return authzProcess.grpcPort;
  }

  beforeAll(async () => {
    idp = await TestIssuer.create(ISSUER);
    app = createServer((req, res) => {
      seen.push({ path: req.url, shadow: req.headers["x-bulwark-shadow-adaptive"] as string | undefined });
      res.setHeader("content-type", "application/json");
      res.end("{}");
    });
    await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", resolve));
    const address = app.address();
    if (!address || typeof address !== "object") throw new Error("the app has no port");
    store = new RedisAdaptiveStore(new Redis(testEnvironment().redisUrl));
    for (const name of ["a", "b"]) {
      const listener = await freePort();
      const input = policyInput(idp.jwks, { sidecar: listener, app: address.port });
      const rendered = render(input).ir;
      workload = rendered.workloads[0] as WorkloadIR;
      const authzPort = name === "a" ? await inProcessAuthz(rendered) : await commandAuthz(input);
      const settings: TranslationSettings = {
        authz: { host: "127.0.0.1", port: authzPort, timeoutMs: 1000 },
        ratelimit: { host: "127.0.0.1", port: 1, timeoutMs: 100 },
        rateLimitDomain: "bulwark",
      };
      const sidecar = render(input, settings).workloads[0];
      if (!sidecar) throw new Error("no workload rendered");
      envoys.push(await startEnvoy(standaloneBootstrap(sidecar.resources), `envoy-adaptive-${name}`));
      listeners.push(listener);
    }
  });

  afterAll(async () => {
    for (const e of envoys) await e.stop();
    for (const s of authz) await s.stop(100);
    await authzProcess?.stop();
    await store?.clear(POLICY);
    await store?.close();
    for (const close of closers) await close().catch(() => undefined);
    await new Promise((resolve) => app?.close(resolve));
  });

  const reason = (r: Reply): unknown => r.headers["x-bulwark-reason"];
  const a = (): number => listeners[0] as number;
  const b = (): number => listeners[1] as number;

  function event(kind: SignalEvent["kind"], identity: { kind: IdentityKind; value: string }): SignalEvent {
    return { kind, workload: workload.name, policy: POLICY, identity, value: 50, threshold: 10, message: "test", timeMs: Date.now() };
  }

  async function flag(kind: SignalEvent["kind"], identity: { kind: IdentityKind; value: string }, ttlMs?: number): Promise<AdaptiveAction[]> {
    const rules = workload.adaptive?.rules ?? [];
    const now = Date.now();
    if (ttlMs === undefined) return applySignal(store, event(kind, identity), rules, now);
    const shortened = rules.map((r) => ({ ...r, ttlSeconds: ttlMs / 1000 }));
    return applySignal(store, event(kind, identity), shortened, now);
  }

  async function token(sub: string): Promise<Record<string, string>> {
    return { authorization: `Bearer ${await idp.sign({ sub }, { audience: AUDIENCE })}` };
  }

  it("calls bulwark authz on every forward route, also the public one that had no authz checks", () => {
    const routes = workload.routes.filter((r) => r.action.kind === "forward");
    expect(routes.length).toBeGreaterThan(1);
    for (const route of routes) expect(route.action.kind === "forward" && route.action.checks.authz?.adaptive, route.name).toBe(true);
  });

  it("blocks a flagged client address with 403 on every route and through both replicas; other addresses are unaffected", async () => {
    expect((await send({ port: a(), path: "/v1/catalog/1", from: "127.0.0.3" })).status).toBe(200);
    const stored = await flag("CredentialStuffing", { kind: "ClientAddress", value: "127.0.0.3" });
    expect(stored.map((s) => s.action)).toEqual(["Block"]);
    // The replica that answered for this address a moment ago sees the block within its cache's second.
    const blocked = await waitFor("the block on replica a", async () => {
      const r = await send({ port: a(), path: "/v1/catalog/1", from: "127.0.0.3" });
      return r.status === 403 ? r : undefined;
    });
    expect([reason(blocked), blocked.body]).toEqual(["adaptive-block:CredentialStuffing", '{"error":"forbidden"}']);
    const onB = await send({ port: b(), path: "/v1/profile", from: "127.0.0.3", headers: await token("alice") });
    expect([onB.status, reason(onB)]).toEqual([403, "adaptive-block:CredentialStuffing"]);
    // The command counts what it enforced.
    expect(await authzProcess?.metric("bulwark_authz_adaptive_total", { action: "block", mode: "enforced", signal: "CredentialStuffing" })).toBeGreaterThanOrEqual(1);
    expect((await send({ port: a(), path: "/v1/catalog/1", from: "127.0.0.4" })).status).toBe(200);
    expect((await send({ port: b(), path: "/v1/catalog/1", from: "127.0.0.4" })).status).toBe(200);
  });

  it("the client address is the one spec.clientAddress decides (X-Forwarded-For from a trusted hop), not the TCP peer", async () => {
    await flag("CredentialStuffing", { kind: "ClientAddress", value: "198.51.100.9" });
    const viaProxy = { "x-forwarded-for": "198.51.100.9" };
    for (const port of [a(), b()]) {
      const r = await waitFor(`the proxied client refused on ${port}`, async () => {
        const reply = await send({ port, path: "/v1/catalog/1", from: "127.0.0.6", headers: viaProxy });
        return reply.status === 403 ? reply : undefined;
      });
      expect(reason(r)).toBe("adaptive-block:CredentialStuffing");
      // The proxy's own requests, and its other clients', go through.
      expect((await send({ port, path: "/v1/catalog/1", from: "127.0.0.6" })).status).toBe(200);
      expect((await send({ port, path: "/v1/catalog/1", from: "127.0.0.6", headers: { "x-forwarded-for": "198.51.100.10" } })).status).toBe(200);
    }
  });

  it("bulwark blocks list shows what is in force, and bulwark blocks clear lets the address back in on both replicas", async () => {
    expect((await send({ port: b(), path: "/v1/catalog/1", from: "127.0.0.3" })).status).toBe(403);
    const env = { BULWARK_REDIS_URL: testEnvironment().redisUrl };
    const listed = await runBulwark(["blocks", "list", "--namespace", NS], env);
    expect([listed.code, listed.stderr]).toEqual([0, ""]);
    expect(listed.stdout).toMatch(new RegExp(`${NS}/shop +ClientAddress=127\\.0\\.0\\.3 +Block +Enforce +CredentialStuffing +(9|10)m`));
    expect(listed.stdout).toContain("2 blocked, 0 throttled, 0 in Shadow mode");
    const json = await runBulwark(["blocks", "list", "--policy", `${NS}/shop`, "-o", "json"], env);
    expect((JSON.parse(json.stdout) as AdaptiveAction[]).map((a) => a.identity.value).sort()).toEqual(["127.0.0.3", "198.51.100.9"]);
    const cleared = await runBulwark(["blocks", "clear", "--policy", `${NS}/shop`, "--identity", "ClientAddress=127.0.0.3"], env);
    expect([cleared.code, cleared.stdout]).toEqual([0, `cleared 1 action of ${NS}/shop\n`]);
    for (const port of [a(), b()]) {
      await waitFor(`the cleared address on ${port}`, async () => (await send({ port, path: "/v1/catalog/1", from: "127.0.0.3" })).status === 200, 5000);
    }
  });

  it("blocks a flagged account (the token's sub) and not another account from the same address", async () => {
    await flag("CardTesting", { kind: "Account", value: "mallory" });
    const mallory = await token("mallory");
    for (const port of [a(), b()]) {
      const r = await waitFor(`mallory refused on ${port}`, async () => {
        const reply = await send({ port, path: "/v1/profile", headers: mallory });
        return reply.status === 403 ? reply : undefined;
      });
      expect(reason(r)).toBe("adaptive-block:CardTesting");
      expect((await send({ port, path: "/v1/profile", headers: await token("bob") })).status).toBe(200);
    }
  });

  it("throttles a flagged account to its budget across both replicas together (429 past it)", async () => {
    await flag("Enumeration", { kind: "Account", value: "trudy" });
    const trudy = await token("trudy");
    // Wait for both replicas to know of the throttle: each answer from then on spends the shared budget of 2 per minute.
    const statuses: number[] = [];
    await waitFor("the throttle", async () => {
      const r = await send({ port: a(), path: "/v1/profile", headers: trudy });
      statuses.push(r.status);
      return r.status === 429 ? r : undefined;
    });
    expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(3);
    const onB = await send({ port: b(), path: "/v1/profile", headers: trudy });
    expect([onB.status, reason(onB)]).toEqual([429, "adaptive-throttle:Enumeration"]);
  });

  it("Shadow mode: a flagged device's requests reach the app, which is told the verdict; the client's own verdict is replaced", async () => {
    await flag("Scraping", { kind: "Device", value: "device-42" });
    await waitFor("the shadow verdict", async () => {
      seen.length = 0;
      const r = await send({ port: b(), path: "/v1/catalog/2", headers: { "x-device-id": "device-42", "x-bulwark-shadow-adaptive": "allowed" } });
      return r.status === 200 && seen[0]?.shadow === "denied";
    });
    seen.length = 0;
    const other = await send({ port: b(), path: "/v1/catalog/2", headers: { "x-device-id": "device-7", "x-bulwark-shadow-adaptive": "denied" } });
    expect([other.status, seen[0]?.shadow]).toEqual([200, "allowed"]);
  });

  it("an action lifts by itself when it expires", async () => {
    await flag("CredentialStuffing", { kind: "ClientAddress", value: "127.0.0.5" }, 2000);
    await waitFor("the short block", async () => (await send({ port: a(), path: "/v1/catalog/1", from: "127.0.0.5" })).status === 403, 5000);
    await waitFor("the block's expiry", async () => (await send({ port: a(), path: "/v1/catalog/1", from: "127.0.0.5" })).status === 200, 6000);
    expect(await store.list(POLICY, Date.now())).not.toContainEqual(expect.objectContaining({ identity: { kind: "ClientAddress", value: "127.0.0.5" } }));
  });
});
