import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { httpRequest, type HttpAnswer } from "../../support/http.js";
import { startPolicySidecar, testAuthentication, testIssuer, type PolicySidecar } from "../../support/policy-sidecar.js";

/**
 * CORS through a real Envoy sidecar rendered from a policy: preflights from a listed origin are
 * answered by the sidecar (the app and the token check never see them), a preflight from another
 * origin is refused, and real requests keep every check, with the CORS headers on the answer.
 */
describe("CORS for web clients through a real Envoy sidecar", () => {
  let sidecar: PolicySidecar;
  let token: string;
  const appSaw: { method: string; url: string }[] = [];

  beforeAll(async () => {
    const issuer = await testIssuer();
    token = await issuer.sign({ sub: "alice" }, "shop-api");
    sidecar = await startPolicySidecar({
      name: "shop-api",
      issuer,
      app: (req, res) => {
        appSaw.push({ method: req.method ?? "", url: req.url ?? "" });
        res.setHeader("x-request-id", "r-1");
        res.end("ok");
      },
      spec: {
        authentication: testAuthentication("shop-api"),
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
      },
    });
  });

  afterAll(async () => {
    await sidecar?.stop();
  });

  const preflight = (origin: string, method = "POST", path = "/v1/orders"): Promise<HttpAnswer> =>
    httpRequest(sidecar.port, path, { method: "OPTIONS", headers: { origin, "access-control-request-method": method, "access-control-request-headers": "authorization" } });

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
    const empty = await httpRequest(sidecar.port, "/v1/orders", { method: "OPTIONS", headers: { origin: "", "access-control-request-method": "POST" } });
    expect(empty.status).toBe(404);
    expect(appSaw.length).toBe(before);
  });

  it("keeps every check on real requests: no token is 401 (with CORS headers, so the page can read it), a token passes", async () => {
    const anonymous = await httpRequest(sidecar.port, "/v1/orders", { headers: { origin: "https://shop.example.com" } });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers["access-control-allow-origin"]).toBe("https://shop.example.com");
    const signedIn = await httpRequest(sidecar.port, "/v1/orders", { headers: { origin: "https://shop.example.com", authorization: `Bearer ${token}` } });
    expect(signedIn.status).toBe(200);
    expect(signedIn.headers).toMatchObject({ "access-control-allow-origin": "https://shop.example.com", "access-control-expose-headers": "x-request-id" });
    const foreign = await httpRequest(sidecar.port, "/v1/orders", { headers: { origin: "https://evil.test", authorization: `Bearer ${token}` } });
    expect(foreign.status).toBe(200);
    expect(foreign.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("refuses an Origin sent twice (400) instead of letting Envoy join the copies", async () => {
    // Two Origin lines (the capitalised name is Node's untyped header entry, which takes a list).
    const reply = await httpRequest(sidecar.port, "/health", { headers: { Origin: ["https://shop.example.com", "https://evil.test"] } });
    expect(reply.status).toBe(400);
    expect(reply.headers["x-bulwark-reason"]).toBe("duplicate_header");
  });
});
