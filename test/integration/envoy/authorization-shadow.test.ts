import { readFile } from "node:fs/promises";
import type { IncomingMessage } from "node:http";
import type { JWTPayload } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { httpRequest } from "../../support/http.js";
import { waitFor } from "../../support/poll.js";
import { startPolicySidecar, testAuthentication, testIssuer, type PolicySidecar, type TestIssuer } from "../../support/policy-sidecar.js";

/**
 * Dry-run authorization (rules' authorizationMode Shadow) through a real Envoy sidecar: what the
 * rule's require and when would refuse passes, with the verdict in x-bulwark-shadow-authorization
 * for the backend (a client's own copy replaced) and a JSON line on the sidecar's output; the
 * token itself is still verified; the same rule in Enforce refuses.
 */
describe("dry-run authorization (authorizationMode Shadow) through a real Envoy sidecar", () => {
  let issuer: TestIssuer;
  let sidecar: PolicySidecar;
  const seen: (string | undefined)[] = [];
  /** The other verdict headers each request brought to the backend. */
  const forged: Record<string, string | string[] | undefined>[] = [];

  beforeAll(async () => {
    issuer = await testIssuer();
    const rule = (name: string, path: string, mode: string): Record<string, unknown> => ({
      name,
      match: { pathPrefix: path },
      require: { scopes: ["orders:write"] },
      when: { notHeaders: { "X-App-Channel": ["beta"] } },
      authorizationMode: mode,
    });
    sidecar = await startPolicySidecar({
      name: "orders-api",
      issuer,
      spec: { authentication: testAuthentication("orders-api"), rules: [rule("dry", "/v2/orders", "Shadow"), rule("enforced", "/v1/orders", "Enforce")] },
      app: (req: IncomingMessage, res) => {
        const value = req.headers["x-bulwark-shadow-authorization"];
        seen.push(Array.isArray(value) ? value.join("|") : value);
        forged.push({ callers: req.headers["x-bulwark-shadow-callers"], ownership: req.headers["x-bulwark-shadow-ownership"] });
        res.end("ok");
      },
    });
  });

  afterAll(async () => {
    await sidecar?.stop();
  });

  const bearer = async (claims: JWTPayload): Promise<string> => `Bearer ${await issuer.sign(claims, "orders-api")}`;
  const call = async (path: string, headers: Record<string, string>): Promise<number> => (await httpRequest(sidecar.port, path, { headers })).status;

  it("lets through what the rule would refuse, telling the backend denied; what it allows, allowed", async () => {
    seen.length = 0;
    expect(await call("/v2/orders", { authorization: await bearer({ sub: "u1", scope: "orders:read" }) })).toBe(200);
    expect(await call("/v2/orders", { authorization: await bearer({ sub: "u1", scope: "orders:write" }), "x-app-channel": "beta" })).toBe(200);
    expect(await call("/v2/orders", { authorization: await bearer({ sub: "u1", scope: "orders:write" }) })).toBe(200);
    // A client cannot write the verdict itself.
    expect(await call("/v2/orders", { authorization: await bearer({ sub: "u1", scope: "orders:read" }), "x-bulwark-shadow-authorization": "allowed" })).toBe(200);
    expect(seen).toEqual(["denied", "denied", "allowed", "denied"]);
  });

  it("never lets a client's own verdict headers reach the backend, on the route in Enforce nor for checks the shadow route lacks", async () => {
    seen.length = 0;
    forged.length = 0;
    const verdicts = { "x-bulwark-shadow-authorization": "allowed", "x-bulwark-shadow-callers": "allowed", "x-bulwark-shadow-ownership": "allowed" };
    expect(await call("/v1/orders", { authorization: await bearer({ sub: "u1", scope: "orders:write" }), ...verdicts })).toBe(200);
    expect(await call("/v2/orders", { authorization: await bearer({ sub: "u1", scope: "orders:write" }), ...verdicts })).toBe(200);
    expect(seen).toEqual([undefined, "allowed"]);
    expect(forged).toEqual([
      { callers: undefined, ownership: undefined },
      { callers: undefined, ownership: undefined },
    ]);
  });

  it("still verifies the token (401 without one, jwt_authn's 403 for another audience), and the same rule in Enforce refuses (403)", async () => {
    const before = sidecar.hits();
    expect(await call("/v2/orders", {})).toBe(401);
    expect(await call("/v2/orders", { authorization: `Bearer ${await issuer.sign({ sub: "u1", scope: "orders:write" }, "another-api")}` })).toBe(403);
    expect(await call("/v1/orders", { authorization: await bearer({ sub: "u1", scope: "orders:read" }) })).toBe(403);
    expect(sidecar.hits()).toBe(before);
    expect(await call("/v1/orders", { authorization: await bearer({ sub: "u1", scope: "orders:write" }) })).toBe(200);
  });

  it("logs a JSON line per shadow refusal on the sidecar's output, and none for allowed requests", async () => {
    const lines = await waitFor(
      "the shadow refusals logged",
      async () => {
        const found = (await readFile(sidecar.logFile, "utf8"))
          .split("\n")
          .filter((l) => l.includes("bulwark_shadow_refusal"))
          .map((l) => JSON.parse(l.slice(l.indexOf("{"))) as Record<string, unknown>);
        return found.length >= 3 ? found : undefined;
      },
      // Envoy writes access logs out every 10 s (its --file-flush-interval-msec).
      40_000,
      200,
    );
    // The three refusals of the Shadow rule (the first test), none of the Enforce rule's: its refusal is a 403, not a shadow.
    expect(lines.filter((l) => String(l.route).endsWith("/dry"))).toHaveLength(3);
    expect(lines.some((l) => String(l.route).endsWith("/enforced"))).toBe(false);
    expect(lines[0]).toMatchObject({ event: "bulwark_shadow_refusal", method: "GET", path: "/v2/orders", authorization: "denied", status: 200 });
    expect(String(lines[0]?.route)).toContain("dry");
  });
});
