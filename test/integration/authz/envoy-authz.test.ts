import { createServer, request, type Server } from "node:http";
import { Redis } from "ioredis";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { standaloneBootstrap } from "../../../envoy/bootstrap/standalone-bootstrap.js";
import { RouteTableHolder, buildRouteTable } from "../../../services/authz/config.js";
import { DpopNonces } from "../../../services/authz/dpop-nonce.js";
import { KeySets } from "../../../services/authz/keys.js";
import { markerValue, RedisReplayStore, replayStoreMarkerKey } from "../../../services/authz/replay-store.js";
import { AuthzServer } from "../../../services/authz/service.js";
import type { TranslationSettings } from "../../../contract/ir.js";
import { render } from "../../../operator/translate/render.js";
import { freePort } from "../../env/processes.js";
import { DpopKey, TestIssuer } from "../../support/authz-client.js";
import { APP_ID, ATTESTER, AUDIENCE, authzPolicyInput, ISSUER } from "../../support/authz-policy.js";
import { startEnvoy, type EnvoyProcess } from "../../support/envoy-process.js";
import { testEnvironment } from "../../support/environment.js";

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

const HOST = "shop.test";

function send(port: number, method: string, path: string, headers: Record<string, string>): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method, path, headers: { host: HOST, ...headers } }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

/**
 * Real Envoy sidecars (rendered from a policy by the same translation as the controller's) in
 * front of a tiny app, calling two bulwark authz instances that share the real Redis.
 */
describe("bulwark authz behind real Envoy: DPoP, ownership, app versions, attestation", () => {
  const log = pino({ level: "silent" });
  let app: Server;
  let appHits = 0;
  let idp: TestIssuer;
  let attester: TestIssuer;
  let phone: DpopKey;
  let thief: DpopKey;
  const authz: AuthzServer[] = [];
  const envoys: EnvoyProcess[] = [];
  const listeners: number[] = [];
  const redises: Redis[] = [];

  beforeAll(async () => {
    idp = await TestIssuer.create(ISSUER);
    attester = await TestIssuer.create(ATTESTER);
    phone = await DpopKey.generate("ES256");
    thief = await DpopKey.generate("ES256");
    app = createServer((req, res) => {
      appHits += 1;
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ path: req.url }));
    });
    await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", resolve));
    const address = app.address();
    if (!address || typeof address !== "object") throw new Error("the app has no port");

    const sharedPrefix = `bulwark-test:${Date.now()}:`;
    // A store in use for an hour: a new one refuses proofs that may predate it (restart-replay.test.ts).
    const seed = new Redis(testEnvironment().redisUrl);
    await seed.set(replayStoreMarkerKey(sharedPrefix), markerValue(Date.now() - 3_600_000));
    await seed.quit();
    for (const name of ["a", "b"]) {
      const listener = await freePort();
      const input = authzPolicyInput({ idpJwks: idp.jwks, attestJwks: attester.jwks, ports: { sidecar: listener, app: address.port } });
      const tables = new RouteTableHolder();
      tables.swap(buildRouteTable(render(input).ir));
      const redis = new Redis(testEnvironment().redisUrl, { maxRetriesPerRequest: 1 });
      redises.push(redis);
      const server = new AuthzServer({
        host: "127.0.0.1",
        port: 0,
        tables,
        deps: { now: Date.now, replay: new RedisReplayStore(redis, sharedPrefix), nonces: new DpopNonces({ secret: "shared-secret-of-the-replicas" }), keys: new KeySets().keys },
        log,
      });
      const authzPort = await server.start();
      authz.push(server);
      const settings: TranslationSettings = {
        authz: { host: "127.0.0.1", port: authzPort, timeoutMs: 1000 },
        ratelimit: { host: "127.0.0.1", port: 1, timeoutMs: 100 },
        rateLimitDomain: "bulwark",
      };
      const workload = render(input, settings).workloads[0];
      if (!workload) throw new Error("no workload rendered");
      envoys.push(await startEnvoy(standaloneBootstrap(workload.resources), `envoy-authz-${name}`));
      listeners.push(listener);
    }
  });

  afterAll(async () => {
    for (const e of envoys) await e.stop();
    for (const s of authz) await s.stop(100);
    for (const r of redises) r.disconnect();
    await new Promise((resolve) => app?.close(resolve));
  });

  async function signed(options: {
    method: string;
    path: string;
    sub?: string;
    key?: DpopKey;
    proofKey?: DpopKey;
    version?: string;
    platform?: string;
    htu?: string;
    extra?: Record<string, string>;
  }): Promise<{ headers: Record<string, string>; proof: string }> {
    const key = options.key ?? phone;
    const token = await idp.sign({ sub: options.sub ?? "alice", cnf: { jkt: key.jkt } }, { audience: AUDIENCE });
    const proof = await (options.proofKey ?? key).proof({ htm: options.method, htu: options.htu ?? `http://${HOST}${options.path}`, accessToken: token });
    return {
      proof,
      headers: { authorization: `DPoP ${token}`, dpop: proof, "x-app-version": options.version ?? "4.3.0", "x-app-platform": options.platform ?? "ios", ...options.extra },
    };
  }

  const reason = (r: Reply): unknown => r.headers["x-bulwark-reason"];

  it("lets the owner read their orders with a fresh proof, and the app receives the request", async () => {
    const before = appHits;
    const { headers } = await signed({ method: "GET", path: "/v1/users/alice/orders?page=2" });
    const reply = await send(listeners[0] ?? 0, "GET", "/v1/users/alice/orders?page=2", headers);
    expect(reply.status, reply.body).toBe(200);
    expect(JSON.parse(reply.body)).toEqual({ path: "/v1/users/alice/orders?page=2" });
    expect(appHits).toBe(before + 1);
  });

  it("refuses another user's orders with 403 and a body that reveals nothing", async () => {
    const reply = await send(listeners[0] ?? 0, "GET", "/v1/users/bob/orders", (await signed({ method: "GET", path: "/v1/users/bob/orders" })).headers);
    expect([reply.status, reason(reply), reply.body]).toEqual([403, "ownership_mismatch", '{"error":"forbidden"}']);
  });

  it("refuses an outdated or unversioned app with 426 and tells it the version to update to", async () => {
    const old = await send(
      listeners[0] ?? 0,
      "GET",
      "/v1/users/alice/orders",
      (await signed({ method: "GET", path: "/v1/users/alice/orders", version: "4.2.1", platform: "ios" })).headers,
    );
    expect([old.status, reason(old), JSON.parse(old.body)]).toEqual([426, "app_version_outdated", { error: "app_update_required", minimumVersion: "4.3.0" }]);
    const android = await send(
      listeners[0] ?? 0,
      "GET",
      "/v1/users/alice/orders",
      (await signed({ method: "GET", path: "/v1/users/alice/orders", version: "4.2.1", platform: "android" })).headers,
    );
    expect(android.status).toBe(200);
    const { headers } = await signed({ method: "GET", path: "/v1/users/alice/orders" });
    delete headers["x-app-version"];
    const missing = await send(listeners[0] ?? 0, "GET", "/v1/users/alice/orders", headers);
    expect([missing.status, reason(missing)]).toEqual([426, "app_version_missing"]);
  });

  it.each<[string, () => Promise<Record<string, string>>, string]>([
    [
      "a proof for another URL",
      async () => (await signed({ method: "GET", path: "/v1/users/alice/orders", htu: `http://${HOST}/v1/users/alice/profile` })).headers,
      "dpop_proof_htu",
    ],
    [
      "a proof for another host",
      async () => (await signed({ method: "GET", path: "/v1/users/alice/orders", htu: "http://api.other.test/v1/users/alice/orders" })).headers,
      "dpop_proof_htu",
    ],
    ["a proof for another method", async () => (await signed({ method: "POST", path: "/v1/users/alice/orders" })).headers, "dpop_proof_htm"],
    ["a proof signed by another key", async () => (await signed({ method: "GET", path: "/v1/users/alice/orders", proofKey: thief })).headers, "dpop_key_mismatch"],
    [
      "no proof",
      async () => {
        const { headers } = await signed({ method: "GET", path: "/v1/users/alice/orders" });
        delete headers.dpop;
        return headers;
      },
      "dpop_proof_missing",
    ],
  ])("refuses %s with 401 and a DPoP challenge", async (_name, make, expected) => {
    const reply = await send(listeners[0] ?? 0, "GET", "/v1/users/alice/orders", await make());
    expect([reply.status, reason(reply)]).toEqual([401, expected]);
    expect(String(reply.headers["www-authenticate"])).toMatch(/^DPoP error="(invalid_dpop_proof|invalid_token)"/);
  });

  it("refuses a token without DPoP binding before authz (jwt_authn wants the DPoP scheme) and through authz", async () => {
    const token = await idp.sign({ sub: "alice" }, { audience: AUDIENCE });
    const bearer = await send(listeners[0] ?? 0, "GET", "/v1/users/alice/orders", { authorization: `Bearer ${token}`, "x-app-version": "4.3.0", "x-app-platform": "ios" });
    expect(bearer.status).toBe(401);
    const proof = await phone.proof({ htm: "GET", htu: `http://${HOST}/v1/users/alice/orders`, accessToken: token });
    const unbound = await send(listeners[0] ?? 0, "GET", "/v1/users/alice/orders", {
      authorization: `DPoP ${token}`,
      dpop: proof,
      "x-app-version": "4.3.0",
      "x-app-platform": "ios",
    });
    expect([unbound.status, reason(unbound)]).toEqual([401, "dpop_token_not_bound"]);
  });

  it("requires a genuine app's attestation on checkout", async () => {
    const without = await send(listeners[0] ?? 0, "POST", "/v1/checkout", (await signed({ method: "POST", path: "/v1/checkout" })).headers);
    expect([without.status, reason(without)]).toEqual([401, "attestation_missing"]);
    const attestation = await attester.sign({ sub: APP_ID }, { audience: "projects/shop" });
    const genuine = await send(
      listeners[0] ?? 0,
      "POST",
      "/v1/checkout",
      (await signed({ method: "POST", path: "/v1/checkout", extra: { "x-app-attestation": attestation } })).headers,
    );
    expect(genuine.status, genuine.body).toBe(200);
    const clone = await attester.sign({ sub: "com.evil.clone" }, { audience: "projects/shop" });
    const cloned = await send(listeners[0] ?? 0, "POST", "/v1/checkout", (await signed({ method: "POST", path: "/v1/checkout", extra: { "x-app-attestation": clone } })).headers);
    expect([cloned.status, reason(cloned)]).toEqual([401, "attestation_app_id"]);
  });

  it("refuses a replayed proof, on the same sidecar and on another one whose authz shares Redis", async () => {
    const { headers } = await signed({ method: "GET", path: "/v1/users/alice/orders" });
    expect((await send(listeners[0] ?? 0, "GET", "/v1/users/alice/orders", headers)).status).toBe(200);
    const again = await send(listeners[0] ?? 0, "GET", "/v1/users/alice/orders", headers);
    expect([again.status, reason(again)]).toEqual([401, "dpop_proof_replayed"]);
    const elsewhere = await send(listeners[1] ?? 0, "GET", "/v1/users/alice/orders", headers);
    expect([elsewhere.status, reason(elsewhere)]).toEqual([401, "dpop_proof_replayed"]);
    const fresh = await signed({ method: "GET", path: "/v1/users/alice/orders" });
    expect((await send(listeners[1] ?? 0, "GET", "/v1/users/alice/orders", fresh.headers)).status).toBe(200);
  });

  it("fails closed when authz is down: 503 and the app never sees the request", async () => {
    await authz[1]?.stop(100);
    const before = appHits;
    const reply = await send(listeners[1] ?? 0, "GET", "/v1/users/alice/orders", (await signed({ method: "GET", path: "/v1/users/alice/orders" })).headers);
    expect(reply.status).toBe(503);
    expect(appHits).toBe(before);
    // The other sidecar's authz is still up.
    expect((await send(listeners[0] ?? 0, "GET", "/v1/users/alice/orders", (await signed({ method: "GET", path: "/v1/users/alice/orders" })).headers)).status).toBe(200);
  });
});
