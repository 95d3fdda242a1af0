import { createServer, request, type IncomingHttpHeaders, type OutgoingHttpHeaders, type Server } from "node:http";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { standaloneBootstrap } from "../../../envoy/bootstrap/standalone-bootstrap.js";
import type { TranslationSettings } from "../../../contract/ir.js";
import { limitsOf } from "../../../services/ratelimit/limit-source.js";
import { MemoryStore } from "../../../services/ratelimit/memory-store.js";
import { RateLimitGrpcService } from "../../../services/ratelimit/service.js";
import type { TranslationInput } from "../../../operator/resolve/objects.js";
import { policy, service, sidecarPod } from "../../../operator/testdata/objects.js";
import { defaultSettings, render } from "../../../operator/translate/render.js";
import { freePort } from "../../env/processes.js";
import { startEnvoy, type EnvoyProcess } from "../../support/envoy-process.js";
import { waitFor } from "../../support/poll.js";

/**
 * The client's address through real Envoy sidecars: which address per-address budgets (key
 * clientIP) and clientCIDRs judge, and which the app receives, whatever the client writes in
 * X-Forwarded-For. The test client connects from 127.0.0.1 (the trusted proxy where one is
 * declared) or binds 127.0.0.2 (a peer nobody trusts).
 */

const TRUSTED = "127.0.0.1";
const UNTRUSTED = "127.0.0.2";

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One request on its own connection from `from`; header values given as a list are sent as that many header lines. */
function send(port: number, options: { path: string; from?: string; headers?: OutgoingHttpHeaders }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: options.path, localAddress: options.from ?? TRUSTED, agent: false, headers: options.headers ?? {} }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** The address headers the app received. */
function seenByApp(reply: Reply): Record<string, unknown> {
  expect(reply.status).toBe(200);
  const headers = (JSON.parse(reply.body) as { headers: IncomingHttpHeaders }).headers;
  return { xff: headers["x-forwarded-for"], external: headers["x-envoy-external-address"], realIp: headers["x-real-ip"] };
}

// Daily budgets: the sliding-window estimate (services/ratelimit/window.ts) rounds the previous
// window's share down, so a minute boundary inside a loop would let one more request through.
const rules = [
  { name: "echo", authentication: "None", match: { pathPrefix: "/v1/echo" } },
  { name: "login", authentication: "None", match: { pathPrefix: "/v1/login" }, rateLimits: [{ name: "per-address", key: ["clientIP"], limit: { requests: 3, per: "24h" } }] },
  {
    name: "signin",
    authentication: "None",
    match: { pathPrefix: "/v1/signin" },
    rateLimits: [{ name: "failures", key: ["clientIP"], limit: { requests: 2, per: "24h" }, counts: { responseCodes: [401] } }],
  },
  { name: "partners", authentication: "None", match: { pathPrefix: "/v1/partners" }, clientCIDRs: { allow: ["203.0.113.0/24", "127.0.0.1/32"] } },
  { name: "staff", authentication: "None", match: { pathPrefix: "/v1/staff" }, clientCIDRs: { allow: ["127.0.0.0/8"], deny: ["127.0.0.2/32", "203.0.113.66/32"] } },
];

/** Three workloads: `direct` (no clientAddress), `behind-lb` (none: the installation's), `behind-cdn` (its own header). */
function objects(app: number, sidecars: Record<string, number>): TranslationInput {
  const workload = (
    name: string,
    clientAddress?: Record<string, unknown>,
  ): { policy: Record<string, unknown>; svc: ReturnType<typeof service>; pod: ReturnType<typeof sidecarPod> } => ({
    policy: policy({ name, created: "2026-01-01T00:00:00Z", spec: { targetRefs: [{ kind: "Service", name }], rules, ...(clientAddress ? { clientAddress } : {}) } }),
    svc: service("shop", name, { app: name }),
    pod: sidecarPod("shop", `${name}-0`, { app: name }, { sidecar: sidecars[name] ?? 0, app }),
  });
  const all = [workload("direct"), workload("behind-lb"), workload("behind-cdn", { header: "X-Real-IP", trustedCIDRs: [`${TRUSTED}/32`] })];
  return { policies: all.map((w) => w.policy), services: all.map((w) => w.svc), pods: all.map((w) => w.pod), secrets: [], now: new Date().toISOString() };
}

describe("the client's address through real Envoy sidecars", () => {
  let app: Server;
  let ratelimit: RateLimitGrpcService;
  const envoys: EnvoyProcess[] = [];
  const port: Record<string, number> = {};
  let hits = 0;

  beforeAll(async () => {
    app = createServer((req, res) => {
      hits++;
      req.resume();
      // /v1/signin always fails: an outcome-aware budget counts the failures.
      if (req.url?.startsWith("/v1/signin")) res.statusCode = 401;
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ path: req.url, headers: req.headers }));
    });
    await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", resolve));
    const address = app.address();
    if (!address || typeof address !== "object") throw new Error("the app has no port");
    for (const name of ["direct", "behind-lb", "behind-cdn"]) port[name] = await freePort();
    const input = objects(address.port, port);
    const limits = limitsOf(input);
    ratelimit = new RateLimitGrpcService({ store: new MemoryStore(), limits: () => limits, domain: defaultSettings.rateLimitDomain, log: pino({ level: "silent" }) });
    const grpcPort = await ratelimit.start("127.0.0.1", 0);
    const base: TranslationSettings = { ...defaultSettings, ratelimit: { host: "127.0.0.1", port: grpcPort, timeoutMs: 500 } };
    // The installation trusts one load balancer hop, from 127.0.0.1 only (--client-address-trusted-hops 1 --client-address-trusted-cidrs 127.0.0.1/32).
    const installation: TranslationSettings = { ...base, clientAddress: { from: "forwardedFor", trustedHops: 1, trustedCIDRs: [`${TRUSTED}/32`] } };
    const plan: [string, TranslationSettings][] = [
      ["direct", base],
      ["behind-lb", installation],
      ["behind-cdn", installation],
    ];
    for (const [name, settings] of plan) {
      const workload = render(input, settings).workloads.find((w) => w.sidecars.includes(`${name}-0.shop`));
      if (!workload) throw new Error(`no workload for ${name}`);
      envoys.push(await startEnvoy(standaloneBootstrap(workload.resources), `envoy-${name}`));
    }
  });

  afterAll(async () => {
    await Promise.all(envoys.map((e) => e.stop()));
    await ratelimit?.stop();
    await new Promise((resolve) => app?.close(resolve));
  });

  describe("by default the TCP peer is the client", () => {
    it("gives the app the peer's address, not the X-Forwarded-For or X-Envoy-External-Address the client wrote", async () => {
      const spoofed = await send(port.direct ?? 0, { path: "/v1/echo", headers: { "x-forwarded-for": "198.51.100.7, 203.0.113.1", "x-envoy-external-address": "198.51.100.8" } });
      expect(seenByApp(spoofed)).toEqual({ xff: TRUSTED, external: TRUSTED, realIp: undefined });
      const duplicated = await send(port.direct ?? 0, { path: "/v1/echo", from: UNTRUSTED, headers: { "x-forwarded-for": ["198.51.100.7", "203.0.113.1"] } });
      expect(seenByApp(duplicated)).toEqual({ xff: UNTRUSTED, external: UNTRUSTED, realIp: undefined });
    });

    it("keeps one per-address budget however the client rotates or repeats X-Forwarded-For", async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) {
        const xff = i % 2 === 0 ? `198.51.100.${i + 10}` : [`198.51.100.${i + 10}`, `203.0.113.${i + 10}`];
        statuses.push((await send(port.direct ?? 0, { path: "/v1/login", from: UNTRUSTED, headers: { "x-forwarded-for": xff } })).status);
      }
      expect(statuses).toEqual([200, 200, 200, 429, 429, 429]);
      // Another peer has its own budget.
      expect((await send(port.direct ?? 0, { path: "/v1/login", headers: { "x-forwarded-for": "198.51.100.10" } })).status).toBe(200);
    });

    it("allows and refuses clientCIDRs on the peer's address, saying why, whatever X-Forwarded-For claims", async () => {
      expect((await send(port.direct ?? 0, { path: "/v1/partners" })).status).toBe(200);
      const before = hits;
      const outside = await send(port.direct ?? 0, { path: "/v1/partners", from: UNTRUSTED, headers: { "x-forwarded-for": "203.0.113.5" } });
      expect(outside.status).toBe(403);
      expect(outside.headers["x-bulwark-reason"]).toBe("client_address_denied");
      expect(outside.headers["content-type"]).toBe("application/json");
      expect(JSON.parse(outside.body)).toEqual({ error: "client_address_denied" });
      expect(hits).toBe(before);
      // deny wins over allow: 127.0.0.2 is in the allowed 127.0.0.0/8 but denied.
      expect((await send(port.direct ?? 0, { path: "/v1/staff" })).status).toBe(200);
      const reached = hits;
      const denied = await send(port.direct ?? 0, { path: "/v1/staff", from: UNTRUSTED, headers: { "x-forwarded-for": "127.0.0.1" } });
      expect(denied.status).toBe(403);
      expect(denied.headers["x-bulwark-reason"]).toBe("client_address_denied");
      expect(hits).toBe(reached);
    });
  });

  describe("trusted hops from the installation, believed only from the trusted proxy's network", () => {
    it("takes the entry the trusted proxy appended, and gives the app that address only", async () => {
      const viaProxy = await send(port["behind-lb"] ?? 0, { path: "/v1/echo", headers: { "x-forwarded-for": "198.51.100.7, 203.0.113.5" } });
      expect(seenByApp(viaProxy)).toEqual({ xff: "203.0.113.5", external: "203.0.113.5", realIp: undefined });
      const duplicated = await send(port["behind-lb"] ?? 0, { path: "/v1/echo", headers: { "x-forwarded-for": ["198.51.100.7", "203.0.113.6"] } });
      expect(seenByApp(duplicated)).toEqual({ xff: "203.0.113.6", external: "203.0.113.6", realIp: undefined });
      // Without an entry the proxy itself is the client.
      expect(seenByApp(await send(port["behind-lb"] ?? 0, { path: "/v1/echo" }))).toEqual({ xff: TRUSTED, external: TRUSTED, realIp: undefined });
      // Another peer's X-Forwarded-For is not believed.
      const direct = await send(port["behind-lb"] ?? 0, { path: "/v1/echo", from: UNTRUSTED, headers: { "x-forwarded-for": "203.0.113.5" } });
      expect(seenByApp(direct)).toEqual({ xff: UNTRUSTED, external: UNTRUSTED, realIp: undefined });
    });

    it("budgets per client behind the proxy: rotating what the client wrote before the proxy's entry does not escape", async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++)
        statuses.push((await send(port["behind-lb"] ?? 0, { path: "/v1/login", headers: { "x-forwarded-for": `198.51.100.${i}, 203.0.113.20` } })).status);
      expect(statuses).toEqual([200, 200, 200, 429, 429]);
      expect((await send(port["behind-lb"] ?? 0, { path: "/v1/login", headers: { "x-forwarded-for": "203.0.113.21" } })).status).toBe(200);
      // A peer outside the trusted network rotating X-Forwarded-For spends its own address's budget.
      const direct: number[] = [];
      for (let i = 0; i < 5; i++)
        direct.push((await send(port["behind-lb"] ?? 0, { path: "/v1/login", from: UNTRUSTED, headers: { "x-forwarded-for": `203.0.113.${30 + i}` } })).status);
      expect(direct).toEqual([200, 200, 200, 429, 429]);
    });

    it("judges clientCIDRs on the believed address", async () => {
      expect((await send(port["behind-lb"] ?? 0, { path: "/v1/partners", headers: { "x-forwarded-for": "203.0.113.9" } })).status).toBe(200);
      const outside = await send(port["behind-lb"] ?? 0, { path: "/v1/partners", headers: { "x-forwarded-for": "198.51.100.9" } });
      expect([outside.status, outside.headers["x-bulwark-reason"]]).toEqual([403, "client_address_denied"]);
      const untrusted = await send(port["behind-lb"] ?? 0, { path: "/v1/partners", from: UNTRUSTED, headers: { "x-forwarded-for": "203.0.113.9" } });
      expect([untrusted.status, untrusted.headers["x-bulwark-reason"]]).toEqual([403, "client_address_denied"]);
      const denied = await send(port["behind-lb"] ?? 0, { path: "/v1/staff", headers: { "x-forwarded-for": "203.0.113.66" } });
      expect([denied.status, denied.headers["x-bulwark-reason"]]).toEqual([403, "client_address_denied"]);
    });
  });

  describe("a trusted header set by the policy, over the installation's hops", () => {
    it("believes X-Real-IP from the trusted peer only, and overwrites it for the app otherwise", async () => {
      const trusted = await send(port["behind-cdn"] ?? 0, { path: "/v1/echo", headers: { "x-real-ip": "203.0.113.7", "x-forwarded-for": "198.51.100.1" } });
      expect(seenByApp(trusted)).toEqual({ xff: "203.0.113.7", external: "203.0.113.7", realIp: "203.0.113.7" });
      const untrusted = await send(port["behind-cdn"] ?? 0, {
        path: "/v1/echo",
        from: UNTRUSTED,
        headers: { "x-real-ip": "203.0.113.7", "x-envoy-external-address": "203.0.113.7" },
      });
      expect(seenByApp(untrusted)).toEqual({ xff: UNTRUSTED, external: UNTRUSTED, realIp: UNTRUSTED });
      // From the trusted peer without a readable address, the peer is the client.
      expect(seenByApp(await send(port["behind-cdn"] ?? 0, { path: "/v1/echo", headers: { "x-real-ip": "not-an-address" } }))).toEqual({
        xff: TRUSTED,
        external: TRUSTED,
        realIp: TRUSTED,
      });
    });

    it("budgets per header address from the trusted peer, and per peer from anyone else however they rotate it", async () => {
      const viaCdn: number[] = [];
      for (let i = 0; i < 4; i++)
        viaCdn.push((await send(port["behind-cdn"] ?? 0, { path: "/v1/login", headers: { "x-real-ip": "203.0.113.40", "x-forwarded-for": `198.51.100.${i}` } })).status);
      expect(viaCdn).toEqual([200, 200, 200, 429]);
      expect((await send(port["behind-cdn"] ?? 0, { path: "/v1/login", headers: { "x-real-ip": "203.0.113.41" } })).status).toBe(200);
      const direct: number[] = [];
      for (let i = 0; i < 4; i++)
        direct.push((await send(port["behind-cdn"] ?? 0, { path: "/v1/login", from: UNTRUSTED, headers: { "x-real-ip": `203.0.113.${50 + i}` } })).status);
      expect(direct).toEqual([200, 200, 200, 429]);
    });

    it("counts failures under the same address the budget is checked with (the outcome log agrees with the descriptor)", async () => {
      const fail = (realIp: string, from = TRUSTED): Promise<Reply> => send(port["behind-cdn"] ?? 0, { path: "/v1/signin", from, headers: { "x-real-ip": realIp } });
      for (let i = 0; i < 2; i++) {
        const before = ratelimit.stats.outcomesCounted;
        expect((await fail("203.0.113.60")).status).toBe(401);
        await waitFor(`failure ${i + 1} counted`, () => Promise.resolve(ratelimit.stats.outcomesCounted > before ? true : undefined), 5000, 100);
      }
      expect((await fail("203.0.113.60")).status).toBe(429);
      expect((await fail("203.0.113.61")).status).toBe(401);
      // The untrusted peer's failures are its own, whatever X-Real-IP it writes.
      for (let i = 0; i < 2; i++) {
        const before = ratelimit.stats.outcomesCounted;
        expect((await fail(`203.0.113.${70 + i}`, UNTRUSTED)).status).toBe(401);
        await waitFor(`untrusted failure ${i + 1} counted`, () => Promise.resolve(ratelimit.stats.outcomesCounted > before ? true : undefined), 5000, 100);
      }
      expect((await fail("203.0.113.72", UNTRUSTED)).status).toBe(429);
    });

    it("judges clientCIDRs on the header's address from the trusted peer only", async () => {
      expect((await send(port["behind-cdn"] ?? 0, { path: "/v1/partners", headers: { "x-real-ip": "203.0.113.9" } })).status).toBe(200);
      const spoofed = await send(port["behind-cdn"] ?? 0, { path: "/v1/partners", from: UNTRUSTED, headers: { "x-real-ip": "203.0.113.9" } });
      expect([spoofed.status, spoofed.headers["x-bulwark-reason"]]).toEqual([403, "client_address_denied"]);
    });
  });
});
