import { connect } from "node:http2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { httpRequest } from "../../support/http.js";
import { startPolicySidecar, testAuthentication, testIssuer, type PolicySidecar } from "../../support/policy-sidecar.js";

/**
 * Rules' caching defaults through a real Envoy sidecar rendered from a policy: Cache-Control and
 * Vary are added where the app sets none, the app's own are kept, and refusals made by the sidecar
 * never carry the rule's caching (a cached 429 or 401 would lock a user out).
 */
describe("caching defaults through a real Envoy sidecar", () => {
  let sidecar: PolicySidecar;
  let token: string;

  beforeAll(async () => {
    const issuer = await testIssuer();
    token = await issuer.sign({ sub: "alice" }, "shop-api");
    sidecar = await startPolicySidecar({
      name: "shop-api",
      issuer,
      app: (req, res) => {
        if (req.url?.includes("own-policy")) res.setHeader("cache-control", "no-store");
        res.end("ok");
      },
      spec: {
        authentication: testAuthentication("shop-api"),
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
      },
    });
  });

  afterAll(async () => {
    await sidecar?.stop();
  });

  it("adds the rule's Cache-Control and Vary where the app sets none, and keeps the app's own", async () => {
    const image = await httpRequest(sidecar.port, "/v1/images/logo.png");
    expect(image.status).toBe(200);
    expect(image.headers).toMatchObject({ "cache-control": "public, max-age=86400", vary: "Accept-Encoding" });
    const own = await httpRequest(sidecar.port, "/v1/images/own-policy.png");
    expect(own.headers["cache-control"]).toBe("no-store");
    const orders = await httpRequest(sidecar.port, "/v1/orders/1", { headers: { authorization: `Bearer ${token}` } });
    expect(orders.status).toBe(200);
    expect(orders.headers["cache-control"]).toBe("private, max-age=60");
  });

  it("never puts the rule's caching on the sidecar's own refusals (401, 429): they say no-store", async () => {
    const anonymous = await httpRequest(sidecar.port, "/v1/orders/1");
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers["cache-control"]).toBe("no-store");
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const reply = await httpRequest(sidecar.port, "/v1/images/x.png");
      statuses.push(reply.status);
      if (reply.status === 429) expect(reply.headers["cache-control"]).toBe("no-store");
    }
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
    // A default-deny 404 is no rule's answer: no caching of a rule either.
    expect((await httpRequest(sidecar.port, "/unlisted")).headers["cache-control"]).not.toBe("public, max-age=86400");
  });
});

/**
 * caching.notModified through a real Envoy: a conditional GET or HEAD whose If-None-Match names the
 * app's ETag is answered 304 without the body (over HTTP/1.1 and HTTP/2, where content on a 304
 * would be a protocol error); anything else passes as the app answered it.
 */
describe("conditional requests answered at the sidecar (caching.notModified)", () => {
  let sidecar: PolicySidecar;
  const body = JSON.stringify({ items: "x".repeat(20_000) });

  beforeAll(async () => {
    sidecar = await startPolicySidecar({
      name: "catalog-api",
      app: (req, res) => {
        if (!req.url?.includes("no-etag")) res.setHeader("etag", req.url?.includes("weak") ? 'W/"v7"' : '"v7"');
        res.setHeader("content-type", "application/json");
        res.setHeader("cache-control", "private, max-age=0");
        res.statusCode = req.url?.includes("broken") ? 500 : 200;
        res.end(body);
      },
      spec: {
        rules: [
          { name: "catalog", match: { pathPrefix: "/v1/catalog/" }, authentication: "None", caching: { notModified: true } },
          { name: "other", match: { pathPrefix: "/v1/other/" }, authentication: "None" },
        ],
      },
    });
  });

  afterAll(async () => {
    await sidecar?.stop();
  });

  const get = (path: string, headers: Record<string, string | string[]> = {}, method = "GET"): ReturnType<typeof httpRequest> =>
    httpRequest(sidecar.port, path, { headers, method });

  it("answers 304 without the body when If-None-Match names the app's ETag (strong, weak, a list, *), keeping ETag and Cache-Control", async () => {
    for (const inm of ['"v7"', 'W/"v7"', '"v1", "v7"', "*"]) {
      const answer = await get("/v1/catalog/items", { "if-none-match": inm });
      expect(answer.status, inm).toBe(304);
      expect(answer.body, inm).toBe("");
      expect(answer.headers.etag).toBe('"v7"');
      expect(answer.headers["cache-control"]).toBe("private, max-age=0");
      expect(answer.headers["content-type"]).toBeUndefined();
    }
    expect((await get("/v1/catalog/weak", { "if-none-match": '"v7"' })).status).toBe(304);
    expect((await get("/v1/catalog/items", { "if-none-match": ['"v1"', '"v7"'] })).status).toBe(304);
    expect((await get("/v1/catalog/items", { "if-none-match": '"v7"' }, "HEAD")).status).toBe(304);
  });

  it("leaves every other answer as the app gave it", async () => {
    const full = await get("/v1/catalog/items");
    expect(full.status).toBe(200);
    expect(full.body).toBe(body);
    expect((await get("/v1/catalog/items", { "if-none-match": '"v8"' })).body).toBe(body);
    // No ETag from the app: nothing is made up.
    expect((await get("/v1/catalog/no-etag", { "if-none-match": "*" })).status).toBe(200);
    // Not a 200: the app's error is not hidden behind a 304.
    expect((await get("/v1/catalog/broken", { "if-none-match": '"v7"' })).status).toBe(500);
    // Not a safe method, or a rule without notModified.
    expect((await get("/v1/catalog/items", { "if-none-match": '"v7"' }, "POST")).status).toBe(200);
    expect((await get("/v1/other/items", { "if-none-match": '"v7"' })).body).toBe(body);
  });

  it("answers 304 over HTTP/2 as a clean stream, and the connection serves on", async () => {
    const session = connect(`http://127.0.0.1:${sidecar.port}`);
    const request = (inm?: string): Promise<{ status: number; length: number }> =>
      new Promise((resolve, reject) => {
        const stream = session.request({ ":path": "/v1/catalog/items", ...(inm ? { "if-none-match": inm } : {}) });
        let status = 0;
        let length = 0;
        stream.on("response", (headers) => (status = Number(headers[":status"])));
        stream.on("data", (chunk: Buffer) => (length += chunk.length));
        stream.on("end", () => resolve({ status, length }));
        stream.on("error", reject);
        stream.end();
      });
    try {
      expect(await request('"v7"')).toEqual({ status: 304, length: 0 });
      expect(await request('"v7"')).toEqual({ status: 304, length: 0 });
      expect(await request()).toEqual({ status: 200, length: body.length });
    } finally {
      session.close();
    }
  });
});
