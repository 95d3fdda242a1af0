/**
 * Rate limiting end to end, as in a cluster: the real API server, the policy applied with
 * kubectl, two `bulwark controller` processes (the Lease holder and a follower), each serving a
 * real Envoy sidecar over xDS and pointing it at its own `bulwark ratelimit` process (the CLI,
 * watching Kubernetes); both ratelimit replicas count in one real Redis of this test's own (it is
 * killed mid-test). The app behind each sidecar answers POST /v1/login with 401 unless the
 * password is right. Clients get distinct source addresses on loopback (127.0.0.x), so budgets
 * keyed by client IP are theirs alone.
 */
import type { KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installCrds } from "../../support/crds.js";
import {
  conditionOf,
  createIssuer,
  createNamespace,
  createSecret,
  createService,
  deleteNamespace,
  e2eEnvironment,
  getPolicy,
  kubeConfig,
  kubectl,
  policyManifest,
  waitFor,
  type ControllerProcess,
  type E2eEnvironment,
  type HttpAnswer,
  type TokenIssuer,
} from "../../support/e2e.js";
import { testEnvironment, uniqueName } from "../../support/environment.js";
import { knowsLimit, requestFrom, startControllerFor, startLoginSidecar, startRatelimitProcess, type LoginSidecar, type RatelimitProcess } from "../../support/ratelimit-e2e.js";
import { OwnRedis } from "../../support/ratelimit-stack.js";

const FAILED_PER_DEVICE = 5;
const FAILED_PER_IP = 8;
const PER_USER = 6;
const AVATARS_PER_DEVICE = 4;
const FEED_LOCAL = 3;
/** The Global limits of the policy below. */
const GLOBAL_LIMITS = 6;

const service = "shop-api";
let env: E2eEnvironment;
let kc: KubeConfig;
let idp: TokenIssuer;
let redis: OwnRedis;
let namespace: string;
let leaseNamespace: string;
const controllers: ControllerProcess[] = [];
const ratelimits: RatelimitProcess[] = [];
const sidecars: LoginSidecar[] = [];
let a: LoginSidecar;
let b: LoginSidecar;

function spec(): Record<string, unknown> {
  return {
    targetRefs: [{ kind: "Service", name: service }],
    authentication: { jwt: { providers: [{ name: "idp", issuer: idp.issuer, audiences: [idp.audience], jwks: { secretRef: { name: "idp-jwks" } } }] } },
    rules: [
      {
        name: "login",
        match: { methods: ["POST"], path: "/v1/login" },
        authentication: "None",
        rateLimits: [
          { name: "failed-per-device", key: ["header:X-Device-Id"], limit: { requests: FAILED_PER_DEVICE, per: "15m" }, counts: { responseCodes: [401] }, responseHeaders: "None" },
          { name: "failed-per-ip", key: ["clientIP"], limit: { requests: FAILED_PER_IP, per: "1h" }, counts: { responseCodes: [401] }, responseHeaders: "None" },
        ],
      },
      {
        name: "images",
        match: { methods: ["GET"], pathPrefix: "/v1/images/" },
        authentication: "None",
        rateLimits: [{ name: "per-device", key: ["header:X-Device-Id"], limit: { requests: 1000, per: "1m" } }],
      },
      { name: "orders", match: { methods: ["GET"], pathPrefix: "/v1/orders/" }, rateLimits: [{ name: "per-user", key: ["claim:sub"], limit: { requests: PER_USER, per: "1m" } }] },
      {
        name: "avatars",
        match: { methods: ["GET"], pathPrefix: "/v1/avatars/" },
        authentication: "None",
        rateLimits: [{ name: "per-device", key: ["header:X-Device-Id"], limit: { requests: AVATARS_PER_DEVICE, per: "1m" } }],
      },
      {
        name: "feed",
        match: { methods: ["GET"], pathPrefix: "/v1/feed" },
        authentication: "None",
        rateLimits: [
          { name: "shield", scope: "Local", limit: { requests: FEED_LOCAL, per: "60s" } },
          { name: "per-device", key: ["header:X-Device-Id"], limit: { requests: 100, per: "1m" } },
        ],
      },
    ],
    defaultAction: "Deny",
  };
}

/** The limit's name as translation gives it (the descriptor's `limit` entry and the metric label). */
function limitName(rule: string, limit: string): string {
  return `apisecuritypolicy/${namespace}/shop/rule/${rule}/ratelimit/${limit}`;
}

async function decisions(rule: string, limit: string, result?: string): Promise<number[]> {
  return Promise.all(ratelimits.map(async (r) => (await r.metric("bulwark_ratelimit_decisions_total", { limit: limitName(rule, limit), ...(result ? { result } : {}) })) ?? 0));
}

async function outcomesCounted(): Promise<number> {
  const counts = await Promise.all(ratelimits.map(async (r) => (await r.metric("bulwark_ratelimit_outcomes_counted_total")) ?? 0));
  return counts.reduce((x, y) => x + y, 0);
}

function reachedLogin(): number {
  return sidecars.reduce((n, s) => n + (s.hits.get("/v1/login") ?? 0), 0);
}

function login(sidecar: LoginSidecar, from: string, device: string, password: string): Promise<HttpAnswer> {
  return requestFrom(sidecar.port, "/v1/login", { from, method: "POST", headers: { "x-device-id": device, "x-password": password } });
}

/** A failed login that reaches the app (401) and whose outcome is counted before the next attempt. */
async function failedLogin(sidecar: LoginSidecar, from: string, device: string): Promise<void> {
  const before = await outcomesCounted();
  const answer = await login(sidecar, from, device, "wrong");
  expect(answer.status).toBe(401);
  await waitFor("the failure to be counted", async () => ((await outcomesCounted()) > before ? true : undefined), 10_000);
}

beforeAll(async () => {
  env = e2eEnvironment(testEnvironment());
  kc = kubeConfig(env);
  idp = await createIssuer("https://idp.ratelimit.bulwark.test/", service);
  await waitFor("the CRDs to be installed", () => installCrds().then(() => true), 90_000, 500);
  redis = await OwnRedis.start();
  leaseNamespace = uniqueName("bulwark-rl-system");
  namespace = uniqueName("rl-e2e");
  for (const ns of [leaseNamespace, namespace]) await createNamespace(kc, ns);
  await createSecret(kc, namespace, "idp-jwks", { "jwks.json": idp.jwks });
  await createService(kc, namespace, service, { app: service });
  // Two ratelimit replicas sharing Redis; each controller points its sidecars at one of them.
  for (const name of ["rl-1", "rl-2"]) ratelimits.push(await startRatelimitProcess(env, { name, redisUrl: redis.url }));
  for (const [i, identity] of ["replica-a", "replica-b"].entries()) {
    controllers.push(await startControllerFor(env, { leaseNamespace, identity }, `127.0.0.1:${ratelimits[i]?.grpcPort ?? 0}`));
  }
  a = await startLoginSidecar(env, kc, { namespace, pod: "shop-a", labels: { app: service }, xdsPort: controllers[0]?.xdsPort ?? 0 });
  sidecars.push(a);
  b = await startLoginSidecar(env, kc, { namespace, pod: "shop-b", labels: { app: service }, xdsPort: controllers[1]?.xdsPort ?? 0 });
  sidecars.push(b);

  await kubectl(env, ["apply", "--namespace", namespace], policyManifest(namespace, "shop", spec()));
  await waitFor(
    "the policy Programmed on 2/2 sidecars",
    async () => {
      const p = await getPolicy(kc, namespace, "shop");
      return conditionOf(p, "Programmed")?.status === "True" && p.status?.sidecars === "2/2" ? true : undefined;
    },
    60_000,
    200,
  );
  // Both ratelimit replicas have translated the policy (its last limit answers as a known one).
  await waitFor(
    "both ratelimit replicas to know the policy's limits",
    async () =>
      (await Promise.all(ratelimits.map((r) => knowsLimit(r.grpcPort, limitName("feed", "per-device"), [{ key: "header:x-device-id", value: "probe" }])))).every(Boolean)
        ? true
        : undefined,
    30_000,
    100,
  );
  for (const r of ratelimits) expect(await r.metric("bulwark_ratelimit_limits")).toBeGreaterThanOrEqual(GLOBAL_LIMITS);
}, 240_000);

afterAll(async () => {
  for (const s of sidecars) await s.stop();
  for (const c of controllers) await c.stop();
  for (const r of ratelimits) await r.stop();
  await redis?.stop();
  for (const ns of [namespace, leaseNamespace]) if (ns) await deleteNamespace(kc, ns);
});

describe("rate limits of an APISecurityPolicy, end to end through the controller", () => {
  it("blocks a credential-stuffing device after N failed logins, before the app, on both sidecars; successful logins spend nothing", async () => {
    const attacker = "127.0.0.3";
    const device = uniqueName("stuffer");
    // Right passwords (200) do not count.
    for (let i = 0; i < 2 * FAILED_PER_DEVICE; i++) expect((await login(i % 2 ? a : b, attacker, device, "right")).status).toBe(200);
    for (let i = 0; i < FAILED_PER_DEVICE; i++) await failedLogin(i % 2 ? b : a, attacker, device);
    const reached = reachedLogin();
    const refused: number[] = [];
    for (let i = 0; i < 10; i++) refused.push((await login(i % 2 ? a : b, attacker, device, i === 9 ? "right" : `guess-${i}`)).status);
    expect(refused).toEqual(Array<number>(10).fill(429));
    // A burst of parallel attempts on both sidecars is refused as well.
    const burst = await Promise.all(Array.from({ length: 40 }, (_, i) => login(i % 2 ? a : b, attacker, device, `burst-${i}`)));
    expect(burst.map((r) => r.status)).toEqual(Array<number>(40).fill(429));
    expect(reachedLogin()).toBe(reached);
    // responseHeaders None: the refusal does not reveal the threshold.
    const last = await login(a, attacker, device, "right");
    expect(last.status).toBe(429);
    expect(last.headers["retry-after"]).toBeUndefined();
    expect(last.headers.ratelimit).toBeUndefined();
    // The same client IP with another device still gets through (the IP budget is not spent yet).
    expect((await login(b, attacker, uniqueName("phone"), "right")).status).toBe(200);
  });

  it("blocks a client IP that rotates device ids after N failed logins per IP; other IPs are not affected", async () => {
    const attacker = "127.0.0.4";
    for (let i = 0; i < FAILED_PER_IP; i++) await failedLogin(i % 2 ? a : b, attacker, uniqueName("rotating"));
    const reached = reachedLogin();
    for (const sidecar of [a, b]) expect((await login(sidecar, attacker, uniqueName("rotating"), "right")).status).toBe(429);
    expect(reachedLogin()).toBe(reached);
    expect((await login(a, "127.0.0.5", uniqueName("phone"), "right")).status).toBe(200);
  });

  it("lets a normal user download 500 images and log in, on a Global limit per device", async () => {
    const user = "127.0.0.6";
    const device = uniqueName("user");
    const statuses = new Map<number, number>();
    for (let batch = 0; batch < 50; batch++) {
      const answers = await Promise.all(
        Array.from({ length: 10 }, (_, i) => requestFrom((batch + i) % 2 ? a.port : b.port, `/v1/images/${batch}-${i}.jpg`, { from: user, headers: { "x-device-id": device } })),
      );
      for (const answer of answers) statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
    }
    expect(Object.fromEntries(statuses)).toEqual({ 200: 500 });
    const counted = await decisions("images", "per-device", "ok");
    expect(counted.reduce((x, y) => x + y, 0)).toBe(500);
    // Both replicas decided: the sidecars call different ratelimit processes.
    expect(counted.every((n) => n > 0)).toBe(true);
    expect((await login(a, user, device, "right")).status).toBe(200);
  });

  it("limits per JWT claim (sub) from real signed tokens, one budget shared by the two ratelimit replicas", async () => {
    const alice = await idp.mint({ sub: uniqueName("alice") });
    const bob = await idp.mint({ sub: uniqueName("bob") });
    const before = await decisions("orders", "per-user");
    const statuses: number[] = [];
    for (let i = 0; i < PER_USER + 2; i++) statuses.push((await requestFrom(i % 2 ? b.port : a.port, "/v1/orders/1", { headers: { authorization: `Bearer ${alice}` } })).status);
    expect(statuses).toEqual([...Array<number>(PER_USER).fill(200), 429, 429]);
    const after = await decisions("orders", "per-user");
    expect(after.map((n, i) => n - (before[i] ?? 0))).toEqual([(PER_USER + 2) / 2, (PER_USER + 2) / 2]);
    // Another subject has its own budget: the key is the claim, not one shared value.
    expect((await requestFrom(a.port, "/v1/orders/1", { headers: { authorization: `Bearer ${bob}` } })).status).toBe(200);
    expect((await requestFrom(b.port, "/v1/orders/1", { headers: { authorization: `Bearer ${bob}` } })).status).toBe(200);
    // Without a token, jwt_authn refuses first.
    expect((await requestFrom(a.port, "/v1/orders/1")).status).toBe(401);
  });

  it("keeps a Local limit in each sidecar beside a Global one on the same route", async () => {
    const before = await decisions("feed", "per-device");
    const onA: number[] = [];
    for (let i = 0; i < FEED_LOCAL + 2; i++) onA.push((await requestFrom(a.port, "/v1/feed", { headers: { "x-device-id": uniqueName("reader") } })).status);
    expect(onA).toEqual([...Array<number>(FEED_LOCAL).fill(200), 429, 429]);
    // The Local bucket refused in Envoy: only the requests it let through were sent to bulwark ratelimit.
    const after = await decisions("feed", "per-device");
    expect(after[0]! - before[0]!).toBe(FEED_LOCAL);
    expect([...(await a.stats("local_rate_limit")).entries()].filter(([k]) => k.endsWith(".rate_limited")).reduce((n, [, v]) => n + v, 0)).toBeGreaterThanOrEqual(2);
    // The other sidecar has its own bucket.
    const onB: number[] = [];
    for (let i = 0; i < FEED_LOCAL; i++) onB.push((await requestFrom(b.port, "/v1/feed", { headers: { "x-device-id": uniqueName("reader") } })).status);
    expect(onB).toEqual(Array<number>(FEED_LOCAL).fill(200));
  });

  it("Redis killed: each replica limits on its own in memory; when Redis returns, the budget is shared again", async () => {
    const avatars = (sidecar: LoginSidecar, device: string): Promise<number> =>
      requestFrom(sidecar.port, "/v1/avatars/me.png", { headers: { "x-device-id": device } }).then((r) => r.status);
    const degraded = (): Promise<number[]> => Promise.all(ratelimits.map(async (r) => (await r.metric("bulwark_ratelimit_store_degraded")) ?? -1));
    expect(await degraded()).toEqual([0, 0]);
    await redis.kill();
    const device = uniqueName("outage");
    const onA: number[] = [];
    for (let i = 0; i < AVATARS_PER_DEVICE + 1; i++) onA.push(await avatars(a, device));
    const onB: number[] = [];
    for (let i = 0; i < AVATARS_PER_DEVICE + 1; i++) onB.push(await avatars(b, device));
    const perReplica = [...Array<number>(AVATARS_PER_DEVICE).fill(200), 429];
    expect({ onA, onB }).toEqual({ onA: perReplica, onB: perReplica });
    expect(await degraded()).toEqual([1, 1]);

    await redis.restart();
    await waitFor(
      "both replicas back on Redis",
      async () => {
        await Promise.all([avatars(a, uniqueName("probe")), avatars(b, uniqueName("probe"))]);
        return (await degraded()).every((d) => d === 0) ? true : undefined;
      },
      20_000,
      200,
    );
    const shared = uniqueName("after");
    const statuses: number[] = [];
    for (let i = 0; i < AVATARS_PER_DEVICE + 2; i++) statuses.push(await avatars(i % 2 ? b : a, shared));
    expect(statuses).toEqual([...Array<number>(AVATARS_PER_DEVICE).fill(200), 429, 429]);
  });
});
