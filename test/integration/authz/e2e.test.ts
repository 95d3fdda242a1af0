/**
 * bulwark authz end to end: the real API server, a policy applied with kubectl, `bulwark
 * controller` and `bulwark authz` as processes (each watching Kubernetes), a real Envoy sidecar
 * configured over xDS by the controller, a local token issuer (real HTTP: token endpoint that
 * checks DPoP proofs, JWKS fetched by the sidecar and by authz through `jwks.remote`), and the
 * sample mobile client library making DPoP-bound requests. Each rule is shown allowing and
 * refusing; a policy edit reaches both authz and the sidecar.
 */
import type { KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAuthzProcess, type AuthzProcess } from "../../support/authz-process.js";
import { installCrds } from "../../support/crds.js";
import {
  conditionOf,
  createNamespace,
  createService,
  deleteNamespace,
  e2eEnvironment,
  getPolicy,
  kubeConfig,
  kubectl,
  policyManifest,
  startController,
  startSidecarPod,
  waitFor,
  type ControllerProcess,
  type E2eEnvironment,
  type SidecarPod,
} from "../../support/e2e.js";
import { testEnvironment, uniqueName } from "../../support/environment.js";
import { MobileClient, type ApiResponse } from "../../support/mobile-client.js";
import { LocalTokenIssuer } from "../../support/token-issuer.js";

const APP_ID = "com.example.shop";
const AUDIENCE = "shop-api";
const API_ORIGIN = "http://shop.test";

let env: E2eEnvironment;
let kc: KubeConfig;
let namespace: string;
let leaseNamespace: string;
let idp: LocalTokenIssuer;
let attester: LocalTokenIssuer;
let authz: AuthzProcess;
let controller: ControllerProcess;
let sidecar: SidecarPod;

function shopSpec(options: { iosMinimum: string; wishlist?: boolean }): Record<string, unknown> {
  const rules: Record<string, unknown>[] = [
    { name: "orders", match: { methods: ["GET"], pathTemplate: "/v1/users/{userId}/orders" }, ownership: { pathParam: "userId" } },
    { name: "checkout", match: { methods: ["POST"], path: "/v1/checkout" }, requireAppAttestation: true },
    { name: "health", match: { path: "/health" }, authentication: "None" },
  ];
  if (options.wishlist) rules.push({ name: "wishlist", match: { methods: ["GET"], path: "/v1/wishlist" } });
  return {
    targetRefs: [{ kind: "Service", name: "shop-api" }],
    defaultAction: "Deny",
    authentication: {
      jwt: {
        providers: [{ name: "idp", issuer: idp.issuer, audiences: [AUDIENCE], jwks: { remote: { uri: idp.jwksUri, cacheDuration: "60s" } }, maxTokenAge: "10m" }],
        senderConstraint: { dpop: { required: true, maxProofAge: "60s", requireNonce: true } },
      },
      appAttestation: { issuer: attester.issuer, audiences: ["projects/shop"], appIds: [APP_ID], jwks: { remote: { uri: attester.jwksUri, cacheDuration: "60s" } } },
    },
    mobile: { minAppVersion: { minimum: "3.0.0", platforms: { ios: options.iosMinimum, android: "4.2.1" } } },
    rules,
  };
}

async function apply(spec: Record<string, unknown>): Promise<void> {
  await kubectl(env, ["apply", "--namespace", namespace], policyManifest(namespace, "shop", spec));
}

async function client(options: { version?: string; platform?: string; user?: string } = {}): Promise<MobileClient> {
  const c = await MobileClient.create({
    connectTo: `http://127.0.0.1:${sidecar.port}`,
    apiOrigin: API_ORIGIN,
    tokenEndpoint: idp.tokenEndpoint,
    appVersion: options.version ?? "4.3.0",
    platform: options.platform ?? "ios",
    attestation: () => attester.sign({ sub: APP_ID, aud: "projects/shop" }),
  });
  if (options.user) await c.signIn(options.user, `${options.user}-password`);
  return c;
}

const reason = (r: ApiResponse): unknown => r.headers["x-bulwark-reason"];

describe("bulwark authz end to end: controller, authz and a sidecar from one policy; a mobile client library", () => {
  beforeAll(async () => {
    env = e2eEnvironment(testEnvironment());
    kc = kubeConfig(env);
    await installCrds();
    namespace = uniqueName("authz-e2e");
    leaseNamespace = uniqueName("authz-e2e-lease");
    await createNamespace(kc, namespace);
    await createNamespace(kc, leaseNamespace);
    idp = await LocalTokenIssuer.start({ audience: AUDIENCE, users: { alice: "alice-password", bob: "bob-password" }, requireNonce: true, lifetimeSeconds: 300 });
    attester = await LocalTokenIssuer.start({ audience: "projects/shop" });

    authz = await startAuthzProcess({ kubeconfig: env.kubeconfig, redisUrl: testEnvironment().redisUrl, dpopNonceSecret: "e2e-nonce-secret-of-the-replicas" });
    // The controller renders ext_authz towards this authz.
    controller = await startController(env, { leaseNamespace, identity: "authz-e2e", extraArgs: ["--authz-address", `127.0.0.1:${authz.grpcPort}`] });

    await createService(kc, namespace, "shop-api", { app: "shop" });
    await apply(shopSpec({ iosMinimum: "4.3.0" }));
    sidecar = await startSidecarPod(env, kc, { namespace, pod: "shop-0", labels: { app: "shop" }, xdsPort: controller.xdsPort, delta: false });
    await waitFor("the policy Programmed", async () => (conditionOf(await getPolicy(kc, namespace, "shop"), "Programmed")?.status === "True" ? true : undefined), 60_000, 200);
    // authz has the policy's routes once the owner's request passes end to end.
    const alice = await client({ user: "alice" });
    await waitFor("alice's orders through sidecar and authz", async () => ((await alice.call("GET", "/v1/users/alice/orders")).status === 200 ? true : undefined), 30_000, 200);
  });

  afterAll(async () => {
    await sidecar?.stop();
    await controller?.stop();
    await authz?.stop();
    await idp?.close();
    await attester?.close();
    if (kc) {
      await deleteNamespace(kc, namespace);
      await deleteNamespace(kc, leaseNamespace);
    }
  });

  it("signs in with a DPoP proof (answering the issuer's nonce challenge) and gets a token bound to the device key", async () => {
    const alice = await client();
    await alice.signIn("alice", "alice-password");
    expect(alice.nonceRetries).toBe(1);
    const claims = JSON.parse(Buffer.from(alice.token?.split(".")[1] ?? "", "base64url").toString("utf8")) as { sub: string; cnf: { jkt: string }; exp: number; iat: number };
    expect(claims.sub).toBe("alice");
    expect(claims.cnf.jkt).toBe(alice.key.jkt);
    expect(claims.exp - claims.iat).toBe(300);
    await expect(alice.signIn("alice", "wrong")).rejects.toThrow(/invalid_grant/);
  });

  it("the token endpoint refuses a token request without a proof, with a proof for another URL, or with a replayed proof", async () => {
    const form = new URLSearchParams({ grant_type: "password", username: "alice", password: "alice-password" }).toString();
    const post = async (dpop?: string): Promise<{ status: number; error: unknown }> => {
      const response = await fetch(idp.tokenEndpoint, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", ...(dpop ? { dpop } : {}) }, body: form });
      return { status: response.status, error: ((await response.json()) as { error?: unknown }).error };
    };
    const device = await client();
    expect(await post()).toEqual({ status: 400, error: "invalid_dpop_proof" });
    const challenge = await fetch(idp.tokenEndpoint, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", dpop: await device.key.proof({ htm: "POST", htu: idp.tokenEndpoint }) },
      body: form,
    });
    const nonce = challenge.headers.get("dpop-nonce") ?? "";
    expect(challenge.status).toBe(400);
    expect(await post(await device.key.proof({ htm: "POST", htu: `${idp.url}/elsewhere`, nonce }))).toEqual({ status: 400, error: "invalid_dpop_proof" });
    const proof = await device.key.proof({ htm: "POST", htu: idp.tokenEndpoint, nonce });
    expect((await post(proof)).status).toBe(200);
    expect(await post(proof)).toEqual({ status: 400, error: "invalid_dpop_proof" });
  });

  it("ownership: the owner reads their orders (after the API's nonce challenge), another user is refused with 403", async () => {
    const alice = await client({ user: "alice" });
    const before = sidecar.app.requests;
    const mine = await alice.call("GET", "/v1/users/alice/orders?page=1");
    expect(mine.status, mine.body).toBe(200);
    expect(mine.json()).toMatchObject({ app: "shop-0", path: "/v1/users/alice/orders?page=1" });
    expect(alice.nonceRetries).toBeGreaterThanOrEqual(2); // the issuer's and the API's
    expect(typeof mine.headers["dpop-nonce"]).toBe("string"); // the next nonce, sent on allow

    const theirs = await alice.call("GET", "/v1/users/bob/orders");
    expect([theirs.status, reason(theirs), theirs.body]).toEqual([403, "ownership_mismatch", '{"error":"forbidden"}']);
    expect(sidecar.app.requests).toBe(before + 1);
  });

  it("minimum app version: an outdated iOS build gets 426 telling it to update; Android's own minimum applies", async () => {
    const old = await client({ user: "alice", version: "4.2.0" });
    const refused = await old.call("GET", "/v1/users/alice/orders");
    expect([refused.status, reason(refused), refused.json()]).toEqual([426, "app_version_outdated", { error: "app_update_required", minimumVersion: "4.3.0" }]);
    const android = await client({ user: "alice", version: "4.2.1", platform: "android" });
    expect((await android.call("GET", "/v1/users/alice/orders")).status).toBe(200);
  });

  it("DPoP: a replayed request is refused; a stolen token is useless on another device; no token is refused by the sidecar", async () => {
    const alice = await client({ user: "alice" });
    expect((await alice.call("GET", "/v1/users/alice/orders")).status).toBe(200);
    const replay = await alice.replayLast();
    expect([replay.status, reason(replay)]).toEqual([401, "dpop_proof_replayed"]);

    const thief = await client();
    thief.useToken(alice.token ?? "");
    const stolen = await thief.call("GET", "/v1/users/alice/orders");
    expect([stolen.status, reason(stolen)]).toEqual([401, "dpop_key_mismatch"]);

    const anonymous = await client();
    const none = await anonymous.call("GET", "/v1/users/alice/orders");
    expect([none.status, reason(none), none.body]).toEqual([401, undefined, "Jwt is missing"]);
  });

  it("attestation: checkout without an integrity token is refused, with a genuine one it passes", async () => {
    const alice = await client({ user: "alice" });
    const without = await alice.call("POST", "/v1/checkout");
    expect([without.status, reason(without)]).toEqual([401, "attestation_missing"]);
    const genuine = await alice.call("POST", "/v1/checkout", { attest: true });
    expect(genuine.status, genuine.body).toBe(200);
    const clone = await alice.call("POST", "/v1/checkout", { headers: { "x-app-attestation": await attester.sign({ sub: "com.evil.clone", aud: "projects/shop" }) } });
    expect([clone.status, reason(clone)]).toEqual([401, "attestation_app_id"]);
  });

  it("counts decisions by outcome and reason, and check latency, on authz's /metrics", async () => {
    expect(await authz.metric("bulwark_authz_decisions_total", { outcome: "allowed", reason: "none" })).toBeGreaterThanOrEqual(5);
    expect(await authz.metric("bulwark_authz_decisions_total", { outcome: "refused", reason: "ownership_mismatch" })).toBeGreaterThanOrEqual(1);
    expect(await authz.metric("bulwark_authz_decisions_total", { outcome: "refused", reason: "dpop_proof_replayed" })).toBeGreaterThanOrEqual(1);
    expect(await authz.metric("bulwark_authz_check_duration_seconds_count")).toBeGreaterThanOrEqual(10);
    expect(await authz.metric("bulwark_authz_routes")).toBeGreaterThanOrEqual(3);
  });

  it("a policy edit reaches authz and the sidecar: a raised minimum refuses 4.3.0, a new rule is routed and checked; requests during the swap all pass", async () => {
    const versionBefore = /bulwark_authz_route_table_info\{version="([0-9a-f]+)"\}/.exec(await authz.metrics())?.[1];
    const current = await client({ user: "alice", version: "4.3.0" });
    const updated = await client({ user: "alice", version: "5.0.0" });
    expect((await updated.call("GET", "/v1/wishlist")).status).toBe(404); // default Deny: no rule yet

    // A 5.0.0 build satisfies the old and the new minimum: nothing it sends may fail while authz and the sidecar swap.
    const during: number[] = [];
    let trafficOn = true;
    const traffic = (async (): Promise<void> => {
      while (trafficOn) during.push((await updated.call("GET", "/v1/users/alice/orders")).status);
    })();
    await apply(shopSpec({ iosMinimum: "5.0.0", wishlist: true }));
    const refused = await waitFor(
      "4.3.0 refused after the edit",
      async () => {
        const r = await current.call("GET", "/v1/users/alice/orders");
        return r.status === 426 ? r : undefined;
      },
      30_000,
      200,
    );
    expect([reason(refused), refused.json()]).toEqual(["app_version_outdated", { error: "app_update_required", minimumVersion: "5.0.0" }]);
    const wishlist = await waitFor(
      "the new rule routed by the sidecar and known to authz",
      async () => {
        const r = await updated.call("GET", "/v1/wishlist");
        return r.status === 200 ? r : undefined;
      },
      30_000,
      200,
    );
    expect(wishlist.json()).toMatchObject({ app: "shop-0", path: "/v1/wishlist" });
    const old = await current.call("GET", "/v1/wishlist");
    expect([old.status, reason(old)]).toEqual([426, "app_version_outdated"]);
    const versionAfter = /bulwark_authz_route_table_info\{version="([0-9a-f]+)"\}/.exec(await authz.metrics())?.[1];
    expect(versionAfter).toBeDefined();
    expect(versionAfter).not.toBe(versionBefore);
    trafficOn = false;
    await traffic;
    expect(during.length).toBeGreaterThan(5);
    expect(during.filter((status) => status !== 200)).toEqual([]);
  });

  it("keeps deciding with the last configuration when the controller is gone", async () => {
    await controller.stop();
    const alice = await client({ user: "alice", version: "5.0.0" });
    expect((await alice.call("GET", "/v1/users/alice/orders")).status).toBe(200);
    const theirs = await alice.call("GET", "/v1/users/bob/orders");
    expect([theirs.status, reason(theirs)]).toEqual([403, "ownership_mismatch"]);
    expect((await authz.get("/readyz")).status).toBe(200);
  });
});
