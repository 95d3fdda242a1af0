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
 * claimsToHeaders through a real Envoy: nested claims by a dotted path, and what jwt_authn makes of
 * numbers, arrays and objects (the README states it, this test holds it to that).
 */
describe("claims copied into request headers by jwt_authn", () => {
  let app: Server;
  let envoy: EnvoyProcess;
  let port: number;
  let sign: (c: JWTPayload) => Promise<string>;
  beforeAll(async () => {
    const { publicKey, privateKey } = await generateKeyPair("ES256");
    const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256", use: "sig" }] };
    sign = (claims) => {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT(claims)
        .setProtectedHeader({ alg: "ES256", kid: "k1" })
        .setIssuer("https://id.example.com/")
        .setAudience("a")
        .setIssuedAt(now)
        .setExpirationTime(now + 600)
        .sign(privateKey);
    };
    app = createServer((req, res) => res.end(JSON.stringify(req.headers)));
    await new Promise<void>((r) => app.listen(0, "127.0.0.1", r));
    const address = app.address();
    if (!address || typeof address !== "object") throw new Error("x");
    port = await freePort();
    const spec = {
      targetRefs: [{ kind: "Service", name: "s" }],
      authentication: {
        jwt: {
          providers: [
            {
              name: "idp",
              issuer: "https://id.example.com/",
              audiences: ["a"],
              jwks: { secretRef: { name: "j" } },
              claimsToHeaders: [
                { claim: "address.country", header: "x-country" },
                { claim: "roles", header: "x-roles" },
                { claim: "org.teams", header: "x-teams" },
                { claim: "n", header: "x-n" },
                { claim: "obj", header: "x-obj" },
              ],
            },
          ],
        },
      },
      rules: [{ name: "all", match: { pathPrefix: "/" } }],
    };
    const input: TranslationInput = {
      policies: [policy({ name: "p", created: "2026-01-01T00:00:00Z", spec })],
      services: [service("shop", "s", { app: "s" })],
      pods: [sidecarPod("shop", "s-0", { app: "s" }, { sidecar: port, app: address.port })],
      secrets: [jwksSecret("shop", "j", jwks)],
      now: new Date().toISOString(),
    };
    const rendered = render(input);
    const workload = rendered.workloads[0];
    if (!workload) throw new Error("nothing rendered");
    envoy = await startEnvoy(standaloneBootstrap(workload.resources), "envoy-claims");
  });
  afterAll(async () => {
    await envoy?.stop();
    await new Promise((resolve) => app?.close(resolve));
  });

  const decoded = (value: unknown): unknown => JSON.parse(Buffer.from(String(value), "base64").toString("utf8"));

  it("copies a nested claim by its dotted path, a number as text, and arrays and objects as base64 of their JSON", async () => {
    const claims = { sub: "u", address: { country: "NL" }, roles: ["admin", "ops"], org: { teams: ["a", "b"] }, n: 5, obj: { a: 1 } };
    const reply = await httpRequest(port, "/x", { headers: { authorization: `Bearer ${await sign(claims)}`, "x-country": "forged", "x-roles": "forged" } });
    expect(reply.status).toBe(200);
    const seen = JSON.parse(reply.body) as Record<string, string | undefined>;
    expect(seen["x-country"]).toBe("NL");
    expect(seen["x-n"]).toBe("5");
    expect(decoded(seen["x-roles"])).toEqual(["admin", "ops"]);
    expect(decoded(seen["x-teams"])).toEqual(["a", "b"]);
    expect(decoded(seen["x-obj"])).toEqual({ a: 1 });
  });

  it("sends no header for a claim the token lacks, and never the client's own value", async () => {
    const reply = await httpRequest(port, "/x", { headers: { authorization: `Bearer ${await sign({ sub: "u" })}`, "x-country": "forged", "x-roles": "forged" } });
    const seen = JSON.parse(reply.body) as Record<string, string | undefined>;
    expect(seen["x-country"]).toBeUndefined();
    expect(seen["x-roles"]).toBeUndefined();
  });
});
