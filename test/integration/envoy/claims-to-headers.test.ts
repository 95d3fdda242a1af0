import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { httpRequest } from "../../support/http.js";
import { startPolicySidecar, TEST_ISSUER, TEST_JWKS_SECRET, testIssuer, type PolicySidecar, type TestIssuer } from "../../support/policy-sidecar.js";

/**
 * claimsToHeaders through a real Envoy: nested claims by a dotted path, and what jwt_authn makes of
 * numbers, arrays and objects (the README states it, this test holds it to that).
 */
describe("claims copied into request headers by jwt_authn", () => {
  let issuer: TestIssuer;
  let sidecar: PolicySidecar;

  beforeAll(async () => {
    issuer = await testIssuer();
    const claimsToHeaders = [
      { claim: "address.country", header: "x-country" },
      { claim: "roles", header: "x-roles" },
      { claim: "org.teams", header: "x-teams" },
      { claim: "n", header: "x-n" },
      { claim: "obj", header: "x-obj" },
    ];
    sidecar = await startPolicySidecar({
      name: "claims",
      issuer,
      app: (req, res) => res.end(JSON.stringify(req.headers)),
      spec: {
        authentication: { jwt: { providers: [{ name: "idp", issuer: TEST_ISSUER, audiences: ["a"], jwks: { secretRef: { name: TEST_JWKS_SECRET } }, claimsToHeaders }] } },
        rules: [{ name: "all", match: { pathPrefix: "/" } }],
      },
    });
  });

  afterAll(async () => {
    await sidecar?.stop();
  });

  const seenWith = async (claims: Record<string, unknown>): Promise<Record<string, string | undefined>> => {
    const reply = await httpRequest(sidecar.port, "/x", { headers: { authorization: `Bearer ${await issuer.sign(claims, "a")}`, "x-country": "forged", "x-roles": "forged" } });
    expect(reply.status).toBe(200);
    return JSON.parse(reply.body) as Record<string, string | undefined>;
  };
  const decoded = (value: unknown): unknown => JSON.parse(Buffer.from(String(value), "base64").toString("utf8"));

  it("copies a nested claim by its dotted path, a number as text, and arrays and objects as base64 of their JSON", async () => {
    const seen = await seenWith({ sub: "u", address: { country: "NL" }, roles: ["admin", "ops"], org: { teams: ["a", "b"] }, n: 5, obj: { a: 1 } });
    expect(seen["x-country"]).toBe("NL");
    expect(seen["x-n"]).toBe("5");
    expect(decoded(seen["x-roles"])).toEqual(["admin", "ops"]);
    expect(decoded(seen["x-teams"])).toEqual(["a", "b"]);
    expect(decoded(seen["x-obj"])).toEqual({ a: 1 });
  });

  it("sends no header for a claim the token lacks, and never the client's own value", async () => {
    const seen = await seenWith({ sub: "u" });
    expect(seen["x-country"]).toBeUndefined();
    expect(seen["x-roles"]).toBeUndefined();
  });
});
