import { createServer, request, type Server } from "node:http";
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { standaloneBootstrap } from "../../../envoy/bootstrap/standalone-bootstrap.js";
import { authServingWorkload, fixtureSettings } from "../../../envoy/testdata/ir-fixtures.js";
import { buildSidecarResources } from "../../../envoy/build/sidecar.js";
import { freePort } from "../../env/processes.js";
import { startEnvoy, type EnvoyProcess } from "../../support/envoy-process.js";

interface Reply {
  status: number;
  body: string;
}

function send(port: number, path: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, headers }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("a sidecar verifying JWTs and checking scopes and claims on the verified payload", () => {
  let app: Server;
  let listenerPort: number;
  let envoy: EnvoyProcess;
  let sign: (claims: JWTPayload, options?: { lifetimeSeconds?: number; issuer?: string }) => Promise<string>;

  beforeAll(async () => {
    const { publicKey, privateKey } = await generateKeyPair("ES256");
    const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: "test-1", alg: "ES256", use: "sig" }] });
    sign = (claims, options = {}) => {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT(claims)
        .setProtectedHeader({ alg: "ES256", kid: "test-1" })
        .setIssuer(options.issuer ?? "https://issuer.test")
        .setAudience("demo")
        .setIssuedAt(now)
        .setExpirationTime(now + (options.lifetimeSeconds ?? 300))
        .sign(privateKey);
    };
    app = createServer((req, res) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ path: req.url, user: req.headers["x-user-id"] ?? null, authorization: req.headers.authorization ?? null }));
    });
    await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", resolve));
    const address = app.address();
    if (!address || typeof address !== "object") throw new Error("the app has no port");
    listenerPort = await freePort();
    const resources = buildSidecarResources(authServingWorkload({ listener: listenerPort, app: address.port }, jwks), fixtureSettings);
    envoy = await startEnvoy(standaloneBootstrap(resources), "envoy-auth");
  });

  afterAll(async () => {
    await envoy?.stop();
    await new Promise((resolve) => app?.close(resolve));
  });

  const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

  it("refuses a request without a token where one is required (401)", async () => {
    expect((await send(listenerPort, "/orders")).status).toBe(401);
    expect((await send(listenerPort, "/me")).status).toBe(401);
  });

  it("accepts the scope as a word of `scope` or an element of `scp`, and the claim as a string or an array element", async () => {
    expect((await send(listenerPort, "/orders", bearer(await sign({ sub: "alice", scope: "profile orders:read", tier: "gold" })))).status).toBe(200);
    expect((await send(listenerPort, "/orders", bearer(await sign({ sub: "alice", scp: ["orders:read", "profile"], tier: ["basic", "platinum"] })))).status).toBe(200);
  });

  it("refuses a valid token without the scope or the claim value (403)", async () => {
    expect((await send(listenerPort, "/orders", bearer(await sign({ sub: "bob", scope: "orders:reader", tier: "gold" })))).status).toBe(403);
    expect((await send(listenerPort, "/orders", bearer(await sign({ sub: "bob", scp: ["profile"], tier: "gold" })))).status).toBe(403);
    expect((await send(listenerPort, "/orders", bearer(await sign({ sub: "bob", scope: "orders:read", tier: "silver" })))).status).toBe(403);
    expect((await send(listenerPort, "/orders", bearer(await sign({ sub: "bob", scope: "orders:read" })))).status).toBe(403);
  });

  it("refuses a token from another issuer or living longer than the maximum lifetime (401)", async () => {
    expect((await send(listenerPort, "/me", bearer(await sign({ sub: "eve" }, { issuer: "https://evil.test" })))).status).toBe(401);
    expect((await send(listenerPort, "/me", bearer(await sign({ sub: "eve" }, { lifetimeSeconds: 7200 })))).status).toBe(401);
  });

  it("takes the token under the DPoP scheme too", async () => {
    const reply = await send(listenerPort, "/me", { authorization: `DPoP ${await sign({ sub: "carol" })}` });
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)).toMatchObject({ user: "carol" });
  });

  it("hands the app the verified subject, never a forged one", async () => {
    const verified = await send(listenerPort, "/me", { ...bearer(await sign({ sub: "alice" })), "x-user-id": "mallory" });
    expect(JSON.parse(verified.body)).toMatchObject({ user: "alice" });
    for (const path of ["/public/catalog", "/open"]) {
      const anonymous = await send(listenerPort, path, { "x-user-id": "mallory" });
      expect(anonymous.status, path).toBe(200);
      expect(JSON.parse(anonymous.body), path).toMatchObject({ user: null });
    }
  });

  it("lets an optional route through without a token but not with a bad one", async () => {
    expect((await send(listenerPort, "/public/catalog")).status).toBe(200);
    expect((await send(listenerPort, "/public/catalog", bearer("not.a.token"))).status).toBe(401);
  });
});

describe("access tokens signed with Ed25519, verified by the sidecar's jwt_authn", () => {
  let app: Server;
  let listenerPort: number;
  let envoy: EnvoyProcess;
  let sign: (alg: "EdDSA" | "Ed25519", claims: JWTPayload) => Promise<string>;

  beforeAll(async () => {
    const { publicKey, privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
    // As identity providers publish it: OKP/Ed25519 with alg EdDSA (RFC 8037).
    const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: "ed-1", alg: "EdDSA", use: "sig" }] });
    sign = (alg, claims) => {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT(claims)
        .setProtectedHeader({ alg, kid: "ed-1" })
        .setIssuer("https://issuer.test")
        .setAudience("demo")
        .setIssuedAt(now)
        .setExpirationTime(now + 300)
        .sign(privateKey);
    };
    app = createServer((req, res) => res.end(JSON.stringify({ user: req.headers["x-user-id"] ?? null })));
    await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", resolve));
    const address = app.address();
    if (!address || typeof address !== "object") throw new Error("the app has no port");
    listenerPort = await freePort();
    const resources = buildSidecarResources(authServingWorkload({ listener: listenerPort, app: address.port }, jwks), fixtureSettings);
    envoy = await startEnvoy(standaloneBootstrap(resources), "envoy-auth-ed25519");
  });

  afterAll(async () => {
    await envoy?.stop();
    await new Promise((resolve) => app?.close(resolve));
  });

  it("accepts a token with alg EdDSA and hands the app its subject", async () => {
    const reply = await send(listenerPort, "/me", { authorization: `Bearer ${await sign("EdDSA", { sub: "dana" })}` });
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)).toMatchObject({ user: "dana" });
  });

  it("refuses (401, never anonymous) a token with the fully-specified alg Ed25519 (RFC 9864), which jwt_authn does not know; the README says so", async () => {
    const reply = await send(listenerPort, "/me", { authorization: `Bearer ${await sign("Ed25519", { sub: "dana" })}` });
    expect(reply).toEqual({ status: 401, body: "Jwt header [alg] is not supported" });
  });

  it("refuses an EdDSA token whose signature was made by another key (401)", async () => {
    const other = await generateKeyPair("EdDSA", { crv: "Ed25519" });
    const now = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({ sub: "mallory" })
      .setProtectedHeader({ alg: "EdDSA", kid: "ed-1" })
      .setIssuer("https://issuer.test")
      .setAudience("demo")
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .sign(other.privateKey);
    expect((await send(listenerPort, "/me", { authorization: `Bearer ${forged}` })).status).toBe(401);
  });
});
