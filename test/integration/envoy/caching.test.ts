import { createServer, type Server } from "node:http";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { standaloneBootstrap } from "../../../envoy/bootstrap/standalone-bootstrap.js";
import type { TranslationInput } from "../../../operator/resolve/objects.js";
import { jwksSecret, policy, service, sidecarPod } from "../../../operator/testdata/objects.js";
import { render } from "../../../operator/translate/render.js";
import { freePort } from "../../env/processes.js";
import { startEnvoy, type EnvoyProcess } from "../../support/envoy-process.js";
import { httpRequest } from "../../support/http.js";

/**
 * Rules' caching defaults through a real Envoy sidecar rendered from a policy: Cache-Control and
 * Vary are added where the app sets none, the app's own are kept, and refusals made by the sidecar
 * never carry the rule's caching (a cached 429 or 401 would lock a user out).
 */
describe("caching defaults through a real Envoy sidecar", () => {
  let app: Server;
  let envoy: EnvoyProcess;
  let port: number;
  let token: string;

  beforeAll(async () => {
    const { publicKey, privateKey } = await generateKeyPair("ES256");
    const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256", use: "sig" }] };
    const now = Math.floor(Date.now() / 1000);
    token = await new SignJWT({ sub: "alice" })
      .setProtectedHeader({ alg: "ES256", kid: "k1" })
      .setIssuer("https://id.example.com/")
      .setAudience("shop-api")
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .sign(privateKey);
    app = createServer((req, res) => {
      if (req.url?.includes("own-policy")) res.setHeader("cache-control", "no-store");
      res.end("ok");
    });
    await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", resolve));
    const address = app.address();
    if (!address || typeof address !== "object") throw new Error("the app has no port");
    port = await freePort();
    const spec = {
      targetRefs: [{ kind: "Service", name: "shop-api" }],
      authentication: { jwt: { providers: [{ name: "idp", issuer: "https://id.example.com/", audiences: ["shop-api"], jwks: { secretRef: { name: "idp-jwks" } } }] } },
      rules: [
        {
          name: "images",
          match: { pathPrefix: "/v1/images/" },
          authentication: "None",
          caching: { cacheControl: "public, max-age=86400", vary: ["Accept-Encoding"] },
          rateLimits: [{ name: "shield", scope: "Local", limit: { requests: 3, per: "1h" } }],
        },
        { name: "orders", match: { pathPrefix: "/v1/orders" }, caching: { cacheControl: "private, max-age=60" } },
      ],
    };
    const input: TranslationInput = {
      policies: [policy({ name: "shop-api", created: "2026-01-01T00:00:00Z", spec })],
      services: [service("shop", "shop-api", { app: "shop" })],
      pods: [sidecarPod("shop", "shop-0", { app: "shop" }, { sidecar: port, app: address.port })],
      secrets: [jwksSecret("shop", "idp-jwks", jwks)],
      now: new Date().toISOString(),
    };
    const rendered = render(input);
    expect(rendered.resolution.policies[0]?.accepted.status).toBe("True");
    const workload = rendered.workloads[0];
    if (!workload) throw new Error("nothing rendered");
    envoy = await startEnvoy(standaloneBootstrap(workload.resources), "envoy-caching");
  });

  afterAll(async () => {
    await envoy?.stop();
    await new Promise((resolve) => app?.close(resolve));
  });

  it("adds the rule's Cache-Control and Vary where the app sets none, and keeps the app's own", async () => {
    const image = await httpRequest(port, "/v1/images/logo.png");
    expect(image.status).toBe(200);
    expect(image.headers).toMatchObject({ "cache-control": "public, max-age=86400", vary: "Accept-Encoding" });
    const own = await httpRequest(port, "/v1/images/own-policy.png");
    expect(own.headers["cache-control"]).toBe("no-store");
    const orders = await httpRequest(port, "/v1/orders/1", { headers: { authorization: `Bearer ${token}` } });
    expect(orders.status).toBe(200);
    expect(orders.headers["cache-control"]).toBe("private, max-age=60");
  });

  it("never puts the rule's caching on the sidecar's own refusals (401, 429): they say no-store", async () => {
    const anonymous = await httpRequest(port, "/v1/orders/1");
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers["cache-control"]).toBe("no-store");
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const reply = await httpRequest(port, "/v1/images/x.png");
      statuses.push(reply.status);
      if (reply.status === 429) expect(reply.headers["cache-control"]).toBe("no-store");
    }
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
    // A default-deny 404 is no rule's answer: no caching of a rule either.
    expect((await httpRequest(port, "/unlisted")).headers["cache-control"]).not.toBe("public, max-age=86400");
  });
});
