import type { Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { policy, service, sidecarPod } from "../../../operator/testdata/objects.js";
import type { TranslationInput } from "../../../operator/resolve/objects.js";
import { uniqueName } from "../../support/environment.js";
import { OwnRedis, send, startLoginApp, startReplica, stopReplica, type Replica, type Reply } from "../../support/ratelimit-stack.js";
import { waitFor } from "../../support/poll.js";

const rules = [
  {
    name: "images",
    authentication: "None",
    match: { methods: ["GET"], pathPrefix: "/v1/images/" },
    rateLimits: [{ name: "per-device", key: ["header:X-Device-Id"], limit: { requests: 4, per: "1m" } }],
  },
  {
    name: "login",
    authentication: "None",
    match: { methods: ["POST"], path: "/v1/login" },
    rateLimits: [
      { name: "failed-logins", key: ["clientIP", "header:X-Device-Id"], limit: { requests: 5, per: "15m" }, counts: { responseCodes: [401, 403] }, responseHeaders: "None" },
    ],
  },
  {
    name: "search",
    authentication: "None",
    match: { pathPrefix: "/v1/search" },
    rateLimits: [{ name: "watch", key: ["header:X-Device-Id"], limit: { requests: 1, per: "1m" }, mode: "Shadow" }],
  },
  {
    name: "feed",
    authentication: "None",
    match: { pathPrefix: "/v1/feed" },
    rateLimits: [{ name: "shield", limit: { requests: 2, per: "1m" }, scope: "Local" }],
  },
];

function objects(appPort: number): (pod: { name: string; sidecarPort: number }) => TranslationInput {
  return (pod: { name: string; sidecarPort: number }): TranslationInput => ({
    policies: [policy({ name: "shop-api", created: "2026-01-01T00:00:00Z", spec: { targetRefs: [{ kind: "Service", name: "shop-api" }], rules } })],
    services: [service("shop", "shop-api", { app: "shop" })],
    pods: [sidecarPod("shop", pod.name, { app: "shop" }, { sidecar: pod.sidecarPort, app: appPort })],
    secrets: [],
    now: new Date().toISOString(),
  });
}

describe("bulwark ratelimit with real Envoy sidecars and a real Redis", () => {
  let redis: OwnRedis;
  let app: { server: Server; port: number; hits: Map<string, number> };
  let a: Replica;
  let b: Replica;
  const device = (what: string): string => uniqueName(what);

  beforeAll(async () => {
    redis = await OwnRedis.start();
    app = await startLoginApp();
    [a, b] = await Promise.all([
      startReplica({ objects: objects(app.port), pod: "shop-a", redisUrl: redis.url }),
      startReplica({ objects: objects(app.port), pod: "shop-b", redisUrl: redis.url }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([stopReplica(a), stopReplica(b)]);
    await new Promise((resolve) => app?.server.close(resolve));
    await redis?.stop();
  });

  async function images(replica: Replica, id: string): Promise<Reply> {
    return send(replica.port, { path: "/v1/images/cat.png", headers: { "x-device-id": id } });
  }

  it("refuses with 429 after N requests per device header, one budget shared by two replicas through Redis", async () => {
    const id = device("dev");
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await images(i % 2 ? b : a, id)).status);
    expect(statuses).toEqual([200, 200, 200, 200]);
    const refusedA = await images(a, id);
    const refusedB = await images(b, id);
    expect([refusedA.status, refusedB.status]).toEqual([429, 429]);
    expect(refusedB.headers["ratelimit-policy"]).toBe("4;w=60");
    expect(refusedB.headers.ratelimit).toMatch(/^limit=4, remaining=0, reset=\d+$/);
    expect(Number(refusedB.headers["retry-after"])).toBeGreaterThan(0);
    // Another device has its own budget; an allowed response tells the client what is left.
    const other = await images(b, device("dev"));
    expect(other.status).toBe(200);
    expect(other.headers.ratelimit).toMatch(/^limit=4, remaining=3, reset=\d+$/);
    // Only the service's RateLimit headers: Envoy adds no X-RateLimit-* headers of its own, as the
    // service reports no current_limit in its statuses (the filter's enable_x_ratelimit_headers has no effect).
    expect(Object.keys(other.headers).filter((h) => h.startsWith("x-ratelimit"))).toEqual([]);
    expect(Object.keys(refusedB.headers).filter((h) => h.startsWith("x-ratelimit"))).toEqual([]);
  });

  it("spends a failed-login budget only on 401/403 and refuses the 6th attempt after 5 failures, before the app", async () => {
    const id = device("phone");
    const login = (replica: Replica, password: string): Promise<Reply> =>
      send(replica.port, { method: "POST", path: "/v1/login", headers: { "x-device-id": id, "x-password": password } });
    const counted = (): number => a.service.stats.outcomesCounted + b.service.stats.outcomesCounted;
    // Successful logins spend nothing.
    for (let i = 0; i < 8; i++) expect((await login(i % 2 ? a : b, "right")).status).toBe(200);
    // Five failures reach the app (401) and each is counted (the access log reaches the service).
    for (let i = 0; i < 5; i++) {
      const before = counted();
      const reply = await login(i % 2 ? a : b, "wrong");
      expect(reply.status).toBe(401);
      await waitFor(`failure ${i + 1} counted`, () => Promise.resolve(counted() > before ? true : undefined), 5000, 100);
    }
    const reached = app.hits.get("/v1/login") ?? 0;
    // The 6th attempt is refused, even with the right password, on either replica, without reaching the app.
    const sixth = await login(a, "right");
    expect(sixth.status).toBe(429);
    expect((await login(b, "wrong")).status).toBe(429);
    expect(app.hits.get("/v1/login")).toBe(reached);
    // responseHeaders None: nothing tells the attacker the threshold.
    expect(sixth.headers["retry-after"]).toBeUndefined();
    expect(sixth.headers.ratelimit).toBeUndefined();
    expect(sixth.headers["x-ratelimit-limit"]).toBeUndefined();
    // A user on another device is not affected.
    const user = await send(a.port, { method: "POST", path: "/v1/login", headers: { "x-device-id": device("phone"), "x-password": "right" } });
    expect(user.status).toBe(200);
  });

  it("never refuses in Shadow mode but reports what it would have refused", async () => {
    const id = device("watch");
    const before = (await a.service.metrics.decisions.get()).values.find((v) => v.labels.result === "shadow_over_limit")?.value ?? 0;
    for (let i = 0; i < 5; i++) {
      const reply = await send(a.port, { path: "/v1/search?q=x", headers: { "x-device-id": id } });
      expect(reply.status).toBe(200);
      expect(reply.headers.ratelimit).toBeUndefined();
    }
    const after = (await a.service.metrics.decisions.get()).values.find((v) => v.labels.result === "shadow_over_limit")?.value ?? 0;
    expect(after - before).toBe(4);
  });

  it("keeps a Local limit in Envoy beside the Global ones", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await send(a.port, { path: "/v1/feed" })).status);
    expect(statuses).toEqual([200, 200, 429]);
    const decisions = a.service.stats.decisions;
    expect((await images(a, device("dev"))).status).toBe(200);
    expect(a.service.stats.decisions).toBe(decisions + 1);
  });

  it("limits per replica in memory while Redis is down, logs it once, and shares budgets again when Redis returns", async () => {
    await redis.stop();
    const id = device("outage");
    const onA: number[] = [];
    for (let i = 0; i < 6; i++) onA.push((await images(a, id)).status);
    expect(onA).toEqual([200, 200, 200, 200, 429, 429]);
    // Replica b counts on its own meanwhile.
    const onB: number[] = [];
    for (let i = 0; i < 5; i++) onB.push((await images(b, id)).status);
    expect(onB).toEqual([200, 200, 200, 200, 429]);
    expect(a.logs.filter((l) => l.includes("redis unavailable")).length).toBe(1);
    expect(a.store.isDegraded).toBe(true);

    await redis.restart();
    await waitFor(
      "both replicas back on Redis",
      async () => {
        await Promise.all([images(a, device("probe")), images(b, device("probe"))]);
        return !a.store.isDegraded && !b.store.isDegraded ? true : undefined;
      },
      15_000,
      100,
    );
    expect(a.logs.filter((l) => l.includes("redis is back")).length).toBe(1);
    const shared = device("after");
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await images(i % 2 ? b : a, shared)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 429]);
  });
});
