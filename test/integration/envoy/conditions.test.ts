import type { JWTPayload } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { httpRequest } from "../../support/http.js";
import { startPolicySidecar, testAuthentication, testIssuer, type PolicySidecar, type TestIssuer } from "../../support/policy-sidecar.js";

/**
 * Rules' `when` through a real Envoy sidecar rendered from a policy: required header values,
 * refused header values (also among the copies of a header sent twice) and refused claim values.
 */
describe("conditions on requests (rules' when) through a real Envoy sidecar", () => {
  let issuer: TestIssuer;
  let sidecar: PolicySidecar;

  beforeAll(async () => {
    issuer = await testIssuer();
    sidecar = await startPolicySidecar({
      name: "partner-api",
      issuer,
      spec: {
        authentication: testAuthentication("partner-api"),
        rules: [
          {
            name: "reports",
            match: { pathPrefix: "/v1/reports" },
            when: { headers: { "X-Tenant": ["acme", "globex"] }, notHeaders: { "User-Agent": ["LegacySDK/1.0"] }, notClaims: { account_status: ["suspended"] } },
          },
          { name: "status", match: { path: "/status" }, authentication: "None", when: { notHeaders: { "X-Debug": ["1"] } } },
        ],
      },
    });
  });

  afterAll(async () => {
    await sidecar?.stop();
  });

  const bearer = async (claims: JWTPayload = { sub: "p1" }): Promise<string> => `Bearer ${await issuer.sign(claims, "partner-api")}`;
  const reports = async (headers: Record<string, string | string[]>, claims?: JWTPayload): Promise<number> =>
    (await httpRequest(sidecar.port, "/v1/reports", { headers: { authorization: await bearer(claims), ...headers } })).status;

  it("allows a listed tenant and refuses another or a missing header (403), and a required header sent twice (400), before the app", async () => {
    const before = sidecar.hits();
    expect(await reports({ "x-tenant": "acme" })).toBe(200);
    expect(await reports({ "x-tenant": "globex", "user-agent": "ShopApp/4.2 (iPhone; iOS 18.1)" })).toBe(200);
    expect(await reports({ "x-tenant": "initech" })).toBe(403);
    expect(await reports({ "x-tenant": "ACME" })).toBe(403);
    expect(await reports({})).toBe(403);
    expect(sidecar.hits() - before).toBe(2);
    // Sent twice, a required header is refused before any check: Envoy's matcher would take either copy.
    const twice = await httpRequest(sidecar.port, "/v1/reports", { headers: { authorization: await bearer(), "X-Tenant": ["acme", "initech"] } });
    expect(twice.status).toBe(400);
    expect(twice.headers["x-bulwark-reason"]).toBe("duplicate_header");
    expect(sidecar.hits() - before).toBe(2);
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
    expect((await httpRequest(sidecar.port, "/status")).status).toBe(200);
    expect((await httpRequest(sidecar.port, "/status", { headers: { "x-debug": "1" } })).status).toBe(403);
    expect((await httpRequest(sidecar.port, "/status", { headers: { "X-Debug": ["0", "1"] } })).status).toBe(403);
  });
});
