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
