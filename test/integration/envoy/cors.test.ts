import { createServer, type Server } from "node:http";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { standaloneBootstrap } from "../../../envoy/bootstrap/standalone-bootstrap.js";
import type { TranslationInput } from "../../../operator/resolve/objects.js";
import { jwksSecret, policy, service, sidecarPod } from "../../../operator/testdata/objects.js";
import { render } from "../../../operator/translate/render.js";
import { freePort } from "../../env/processes.js";
import { startEnvoy, type EnvoyProcess } from "../../support/envoy-process.js";
import { httpRequest, type HttpAnswer } from "../../support/http.js";

/**
 * CORS through a real Envoy sidecar rendered from a policy: preflights from a listed origin are
 * answered by the sidecar (the app and the token check never see them), a preflight from another
 * origin is refused, and real requests keep every check, with the CORS headers on the answer.
 */
describe("CORS for web clients through a real Envoy sidecar", () => {
  let app: Server;
  let envoy: EnvoyProcess;
  let port: number;
  let token: string;
  const appSaw: { method: string; url: string }[] = [];

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
      appSaw.push({ method: req.method ?? "", url: req.url ?? "" });
      res.setHeader("x-request-id", "r-1");
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
        { name: "orders", match: { pathPrefix: "/v1/orders", methods: ["GET", "POST"] } },
        { name: "health", match: { path: "/health" }, authentication: "None" },
      ],
      cors: {
        allowOrigins: ["https://shop.example.com", "https://*.preview.example.com"],
        allowMethods: ["GET", "POST"],
        allowHeaders: ["authorization", "content-type"],
        exposeHeaders: ["x-request-id"],
        maxAge: "10m",
      },
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
    envoy = await startEnvoy(standaloneBootstrap(workload.resources), "envoy-cors");
  });

  afterAll(async () => {
    await envoy?.stop();
    await new Promise((resolve) => app?.close(resolve));
  });

  const preflight = (origin: string, method = "POST", path = "/v1/orders"): Promise<HttpAnswer> =>
    httpRequest(port, path, { method: "OPTIONS", headers: { origin, "access-control-request-method": method, "access-control-request-headers": "authorization" } });

  it("answers a preflight from a listed origin itself, without a token, and the app never sees it", async () => {
    const before = appSaw.length;
    const reply = await preflight("https://shop.example.com");
    expect(reply.status).toBe(200);
    expect(reply.headers).toMatchObject({
      "access-control-allow-origin": "https://shop.example.com",
      "access-control-allow-methods": "GET,POST",
      "access-control-allow-headers": "authorization,content-type",
      "access-control-max-age": "600",
    });
    expect(reply.headers["access-control-allow-credentials"]).toBeUndefined();
    expect(appSaw.length).toBe(before);
  });

  it("takes exactly one label for a wildcard origin", async () => {
    expect((await preflight("https://pr-42.preview.example.com")).headers["access-control-allow-origin"]).toBe("https://pr-42.preview.example.com");
    for (const origin of ["https://preview.example.com", "https://a.b.preview.example.com", "https://pr-42.preview.example.com.evil.test", "http://pr-42.preview.example.com"]) {
      expect((await preflight(origin)).headers["access-control-allow-origin"], origin).toBeUndefined();
    }
  });

  it("answers a preflight from another origin itself without CORS headers (the browser refuses), never forwarding it", async () => {
    const before = appSaw.length;
    for (const origin of ["https://evil.test", "null", "https://shop.example.com.evil.test", "HTTPS://SHOP.EXAMPLE.COM.evil.test"]) {
      const reply = await preflight(origin);
      expect(reply.headers["access-control-allow-origin"], origin).toBeUndefined();
      expect(reply.status, origin).toBe(200);
    }
    // An empty Origin is no preflight to Envoy's CORS filter: it must not ride the preflight route to the app.
    const empty = await httpRequest(port, "/v1/orders", { method: "OPTIONS", headers: { origin: "", "access-control-request-method": "POST" } });
    expect(empty.status).toBe(404);
    expect(appSaw.length).toBe(before);
  });

  it("keeps every check on real requests: no token is 401 (with CORS headers, so the page can read it), a token passes", async () => {
    const anonymous = await httpRequest(port, "/v1/orders", { headers: { origin: "https://shop.example.com" } });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers["access-control-allow-origin"]).toBe("https://shop.example.com");
    const signedIn = await httpRequest(port, "/v1/orders", { headers: { origin: "https://shop.example.com", authorization: `Bearer ${token}` } });
    expect(signedIn.status).toBe(200);
    expect(signedIn.headers).toMatchObject({ "access-control-allow-origin": "https://shop.example.com", "access-control-expose-headers": "x-request-id" });
    const foreign = await httpRequest(port, "/v1/orders", { headers: { origin: "https://evil.test", authorization: `Bearer ${token}` } });
    expect(foreign.status).toBe(200);
    expect(foreign.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("refuses an Origin sent twice (400) instead of letting Envoy join the copies", async () => {
    // Two Origin lines (the capitalised name is Node's untyped header entry, which takes a list).
    const reply = await httpRequest(port, "/health", { headers: { Origin: ["https://shop.example.com", "https://evil.test"] } });
    expect(reply.status).toBe(400);
    expect(reply.headers["x-bulwark-reason"]).toBe("duplicate_header");
  });
});
