import { createServer, type Server } from "node:http";
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { standaloneBootstrap } from "../../../envoy/bootstrap/standalone-bootstrap.js";
import type { TranslationInput } from "../../../operator/resolve/objects.js";
import { jwksSecret, policy, service, sidecarPod } from "../../../operator/testdata/objects.js";
import { render } from "../../../operator/translate/render.js";
import { freePort } from "../../env/processes.js";
import { startEnvoy, type EnvoyProcess } from "../../support/envoy-process.js";
import { httpRequest } from "../../support/http.js";

/**
 * Rules' `when` through a real Envoy sidecar rendered from a policy: required header values,
 * refused header values (also among the copies of a header sent twice) and refused claim values.
 */
describe("conditions on requests (rules' when) through a real Envoy sidecar", () => {
  let app: Server;
  let envoy: EnvoyProcess;
  let port: number;
  let hits = 0;
  let sign: (claims: JWTPayload) => Promise<string>;

  beforeAll(async () => {
    const { publicKey, privateKey } = await generateKeyPair("ES256");
    const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256", use: "sig" }] };
    sign = (claims) => {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT(claims)
        .setProtectedHeader({ alg: "ES256", kid: "k1" })
        .setIssuer("https://id.example.com/")
        .setAudience("partner-api")
        .setIssuedAt(now)
        .setExpirationTime(now + 600)
        .sign(privateKey);
    };
    app = createServer((_req, res) => {
      hits++;
      res.end("ok");
    });
    await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", resolve));
    const address = app.address();
    if (!address || typeof address !== "object") throw new Error("the app has no port");
    port = await freePort();
    const spec = {
      targetRefs: [{ kind: "Service", name: "partner-api" }],
      authentication: { jwt: { providers: [{ name: "idp", issuer: "https://id.example.com/", audiences: ["partner-api"], jwks: { secretRef: { name: "idp-jwks" } } }] } },
      rules: [
        {
          name: "reports",
          match: { pathPrefix: "/v1/reports" },
          when: { headers: { "X-Tenant": ["acme", "globex"] }, notHeaders: { "User-Agent": ["LegacySDK/1.0"] }, notClaims: { account_status: ["suspended"] } },
        },
        { name: "status", match: { path: "/status" }, authentication: "None", when: { notHeaders: { "X-Debug": ["1"] } } },
      ],
    };
    const input: TranslationInput = {
      policies: [policy({ name: "partner-api", created: "2026-01-01T00:00:00Z", spec })],
      services: [service("shop", "partner-api", { app: "partner" })],
      pods: [sidecarPod("shop", "partner-0", { app: "partner" }, { sidecar: port, app: address.port })],
      secrets: [jwksSecret("shop", "idp-jwks", jwks)],
      now: new Date().toISOString(),
    };
    const rendered = render(input);
    expect(rendered.resolution.policies[0]?.accepted.status).toBe("True");
    const workload = rendered.workloads[0];
    if (!workload) throw new Error("nothing rendered");
    envoy = await startEnvoy(standaloneBootstrap(workload.resources), "envoy-conditions");
  });

  afterAll(async () => {
    await envoy?.stop();
    await new Promise((resolve) => app?.close(resolve));
  });

  const reports = async (headers: Record<string, string | string[]>, claims: JWTPayload = { sub: "p1" }): Promise<number> =>
    (await httpRequest(port, "/v1/reports", { headers: { authorization: `Bearer ${await sign(claims)}`, ...headers } })).status;

  it("allows a listed tenant and refuses another or a missing header (403), and a required header sent twice (400), before the app", async () => {
    const before = hits;
    expect(await reports({ "x-tenant": "acme" })).toBe(200);
    expect(await reports({ "x-tenant": "globex", "user-agent": "ShopApp/4.2 (iPhone; iOS 18.1)" })).toBe(200);
    expect(await reports({ "x-tenant": "initech" })).toBe(403);
    expect(await reports({ "x-tenant": "ACME" })).toBe(403);
    expect(await reports({})).toBe(403);
    expect(hits - before).toBe(2);
    // Sent twice, a required header is refused before any check: Envoy's matcher would take either copy.
    const twice = await httpRequest(port, "/v1/reports", { headers: { authorization: `Bearer ${await sign({ sub: "p1" })}`, "X-Tenant": ["acme", "initech"] } });
    expect(twice.status).toBe(400);
    expect(twice.headers["x-bulwark-reason"]).toBe("duplicate_header");
    expect(hits - before).toBe(2);
  });

  it("refuses a refused header value, also beside another copy of the header, and a refused claim value", async () => {
    expect(await reports({ "x-tenant": "acme", "user-agent": "LegacySDK/1.0" })).toBe(403);
    expect(await reports({ "x-tenant": "acme", "User-Agent": ["ShopApp/4.2", "LegacySDK/1.0"] })).toBe(403);
    expect(await reports({ "x-tenant": "acme", "User-Agent": ["LegacySDK/1.0", "ShopApp/4.2"] })).toBe(403);
    expect(await reports({ "x-tenant": "acme", "user-agent": "LegacySDK/1.01" })).toBe(200);
    expect(await reports({ "x-tenant": "acme" }, { sub: "p2", account_status: "suspended" })).toBe(403);
    expect(await reports({ "x-tenant": "acme" }, { sub: "p3", account_status: ["active", "suspended"] })).toBe(403);
    expect(await reports({ "x-tenant": "acme" }, { sub: "p4", account_status: "active" })).toBe(200);
  });

  it("checks conditions on a public rule too", async () => {
    expect((await httpRequest(port, "/status")).status).toBe(200);
    expect((await httpRequest(port, "/status", { headers: { "x-debug": "1" } })).status).toBe(403);
    expect((await httpRequest(port, "/status", { headers: { "X-Debug": ["0", "1"] } })).status).toBe(403);
  });
});
