import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DiscoveryBook } from "../../../operator/oidc/discovery-book.js";
import { discoveryWants } from "../../../operator/resolve/oidc-discovery.js";
import { httpRequest } from "../../support/http.js";
import { signingKey, startOidcIssuer, type OidcIssuer, type SigningKey } from "../../support/oidc-issuer.js";
import { startPolicySidecar, type PolicySidecar } from "../../support/policy-sidecar.js";
import { waitFor } from "../../support/poll.js";

/**
 * jwks.oidcDiscovery through a real Envoy and a real issuer on loopback: the DiscoveryBook (the
 * controller's and bulwark authz's edge) fetches the issuer's discovery document, translation
 * points jwt_authn at the jwks_uri it names, and when the issuer moves its keys to a new
 * jwks_uri the next translation verifies tokens signed by the keys found there.
 */
describe("JWKS found through OpenID Connect Discovery", () => {
  let issuer: OidcIssuer;
  let keyA: SigningKey;
  let keyB: SigningKey;
  let book: DiscoveryBook;
  const sidecars: PolicySidecar[] = [];

  const spec = (iss: string): Record<string, unknown> => ({
    authentication: { jwt: { providers: [{ name: "idp", issuer: iss, audiences: ["shop"], jwks: { oidcDiscovery: { cacheDuration: "30s" } } }] } },
    rules: [{ name: "all", match: { pathPrefix: "/" } }],
  });

  async function sidecar(name: string): Promise<PolicySidecar> {
    // What the controller does on every reconcile: the book completes the objects with its results.
    const input = book.complete({ policies: [{ spec: spec(issuer.issuer) }], services: [], pods: [], secrets: [], now: "" });
    const started = await startPolicySidecar({ name, spec: spec(issuer.issuer), ...(input.oidcDiscovery ? { oidcDiscovery: input.oidcDiscovery } : {}) });
    sidecars.push(started);
    return started;
  }

  const status = async (port: number, key: SigningKey): Promise<number> =>
    (await httpRequest(port, "/orders", { headers: { authorization: `Bearer ${await key.sign({ sub: "alice" }, { issuer: issuer.issuer, audience: "shop" })}` } })).status;

  beforeAll(async () => {
    issuer = await startOidcIssuer();
    [keyA, keyB] = await Promise.all([signingKey("a"), signingKey("b")]);
    issuer.publish("a", keyA.jwks);
    issuer.publish("b", keyB.jwks);
    book = new DiscoveryBook({ onChange: () => undefined, log: pino({ level: "silent" }), intervalMs: () => 100, retryMs: 50 });
  });

  afterAll(async () => {
    book?.stop();
    for (const s of sidecars) await s.stop();
    await issuer?.close();
  });

  it("refuses every token while discovery has not succeeded (ResolvedRefs False), then accepts the issuer's keys", async () => {
    // The discovery endpoint answers 503: nothing is known yet.
    book.want(discoveryWants([{ spec: spec(issuer.issuer) }]));
    await waitFor("the failed first fetch", () => book.results()[issuer.issuer]);
    const pending = await sidecar("oidc-pending");
    expect(pending.rendered.resolution.policies[0]?.resolvedRefs).toMatchObject({ status: "False", reason: "DiscoveryFailed" });
    expect(await status(pending.port, keyA)).toBe(401);

    issuer.pointAt(issuer.publish("a", keyA.jwks));
    await waitFor("the jwks_uri of key a", () => "jwksUri" in (book.results()[issuer.issuer] ?? {}));
    const found = await sidecar("oidc-a");
    expect(found.rendered.resolution.policies[0]?.resolvedRefs.status).toBe("True");
    expect(await status(found.port, keyA)).toBe(200);
    expect(await status(found.port, keyB)).toBe(401);
    expect((await httpRequest(found.port, "/orders")).status).toBe(401);
  });

  it("follows the issuer to a new jwks_uri: tokens signed by the keys there verify, the old keys no longer do", async () => {
    issuer.pointAt(`${issuer.issuer}/keys/b`);
    await waitFor("the new jwks_uri", () => {
      const result = book.results()[issuer.issuer];
      return result !== undefined && "jwksUri" in result && result.jwksUri.endsWith("/keys/b");
    });
    const moved = await sidecar("oidc-b");
    expect(await status(moved.port, keyB)).toBe(200);
    expect(await status(moved.port, keyA)).toBe(401);
  });

  it("keeps the last good jwks_uri when the issuer then serves a document naming another issuer", async () => {
    issuer.discovery = { status: 200, body: JSON.stringify({ issuer: "http://127.0.0.1:9", jwks_uri: `${issuer.issuer}/keys/a` }) };
    const seen = issuer.discoveryRequests;
    await waitFor("two refused refreshes", () => issuer.discoveryRequests >= seen + 2);
    const kept = await sidecar("oidc-kept");
    expect(await status(kept.port, keyB)).toBe(200);
    expect(await status(kept.port, keyA)).toBe(401);
  });
});
