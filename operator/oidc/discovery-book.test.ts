import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startOidcIssuer, type OidcIssuer } from "../../test/support/oidc-issuer.js";
import { waitFor } from "../../test/support/poll.js";
import { checkDiscoveryDocument, discoveryUrl, discoveryWants } from "../resolve/oidc-discovery.js";
import { DiscoveryBook, fetchDiscovery } from "./discovery-book.js";

const log = pino({ level: "silent" });

describe("checkDiscoveryDocument", () => {
  const issuer = "https://id.example.com";

  it("returns the jwks_uri of a document that names the configured issuer exactly", () => {
    expect(checkDiscoveryDocument(issuer, { issuer, jwks_uri: "https://keys.example.com/jwks" })).toEqual({ jwksUri: "https://keys.example.com/jwks" });
  });

  it("refuses a document naming another issuer, even one differing only by a trailing slash", () => {
    expect(checkDiscoveryDocument(issuer, { issuer: "https://evil.example.com", jwks_uri: "https://evil.example.com/jwks" })).toMatchObject({
      error: expect.stringContaining("names the issuer") as unknown,
    });
    expect(checkDiscoveryDocument(issuer, { issuer: `${issuer}/`, jwks_uri: "https://keys.example.com/jwks" })).toMatchObject({
      error: expect.stringContaining("names the issuer") as unknown,
    });
  });

  it("refuses a plain-http jwks_uri for an https issuer, a missing one and one Envoy cannot fetch", () => {
    expect(checkDiscoveryDocument(issuer, { issuer, jwks_uri: "http://keys.example.com/jwks" })).toMatchObject({ error: expect.stringContaining("not https") as unknown });
    expect(checkDiscoveryDocument(issuer, { issuer })).toMatchObject({ error: expect.stringContaining("no jwks_uri") as unknown });
    expect(checkDiscoveryDocument(issuer, { issuer, jwks_uri: "https://user@keys.example.com/jwks" })).toMatchObject({ error: expect.stringContaining("not a URL") as unknown });
    expect(checkDiscoveryDocument(issuer, [])).toMatchObject({ error: expect.stringContaining("not a JSON object") as unknown });
  });

  it("puts the document under the issuer's path, without a doubled slash", () => {
    expect(discoveryUrl("https://id.example.com/realms/shop/")).toBe("https://id.example.com/realms/shop/.well-known/openid-configuration");
    expect(discoveryUrl("https://id.example.com")).toBe("https://id.example.com/.well-known/openid-configuration");
  });
});

describe("discoveryWants", () => {
  it("collects each issuer with oidcDiscovery once, with its shortest cacheDuration", () => {
    const provider = (issuer: string, jwks: unknown): unknown => ({ name: "p", issuer, jwks });
    const policies = [
      {
        spec: {
          authentication: {
            jwt: { providers: [provider("https://a", { oidcDiscovery: { cacheDuration: "10m" } }), provider("https://b", { remote: { uri: "https://b/jwks" } })] },
          },
        },
      },
      {
        spec: {
          authentication: {
            jwt: { providers: [provider("https://a", { oidcDiscovery: { cacheDuration: "2m" } })] },
            appAttestation: { issuer: "https://c", jwks: { oidcDiscovery: {} } },
          },
        },
      },
      { spec: "not a spec" },
      null,
    ];
    expect([...discoveryWants(policies)]).toEqual([
      ["https://a", 120],
      ["https://c", 300],
    ]);
  });
});

describe("fetching a discovery document from a real local issuer", () => {
  let issuer: OidcIssuer;
  beforeEach(async () => {
    issuer = await startOidcIssuer();
  });
  afterEach(async () => {
    await issuer.close();
  });

  it("follows no redirect, bounds the size and says what failed", async () => {
    issuer.discovery = { status: 302, body: "", headers: { location: "http://127.0.0.1:1/elsewhere" } };
    expect(await fetchDiscovery(issuer.issuer)).toMatchObject({ error: expect.stringContaining("redirects are not followed") as unknown });
    issuer.discovery = { status: 200, body: JSON.stringify({ issuer: issuer.issuer, jwks_uri: `${issuer.issuer}/keys/a`, padding: "x".repeat(100_000) }) };
    expect(await fetchDiscovery(issuer.issuer)).toMatchObject({ error: expect.stringContaining("larger than 65536 bytes") as unknown });
    issuer.discovery = { status: 200, body: "<html>" };
    expect(await fetchDiscovery(issuer.issuer)).toMatchObject({ error: expect.stringContaining("did not return JSON") as unknown });
    issuer.pointAt(`${issuer.issuer}/keys/a`);
    expect(await fetchDiscovery(issuer.issuer)).toEqual({ jwksUri: `${issuer.issuer}/keys/a` });
  });

  it("gives up on an issuer that does not answer in time", async () => {
    const { createServer } = await import("node:net");
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const address = silent.address();
    if (!address || typeof address !== "object") throw new Error("no port");
    try {
      expect(await fetchDiscovery(`http://127.0.0.1:${address.port}`, { timeoutMs: 300, maxBytes: 1024 })).toMatchObject({
        error: expect.stringContaining("no answer within 300 ms") as unknown,
      });
    } finally {
      silent.close();
    }
  });

  it("refreshes, keeps the last good jwks_uri when a refresh fails, and reports a change", async () => {
    let changes = 0;
    const book = new DiscoveryBook({ onChange: () => (changes += 1), log, intervalMs: () => 100, retryMs: 50 });
    try {
      const wants = new Map([[issuer.issuer, 30]]);
      // Before any success the result is the error: translation refuses the provider's tokens.
      book.want(wants);
      await waitFor("the first (failed) fetch", () => book.results()[issuer.issuer]);
      expect(book.results()[issuer.issuer]).toMatchObject({ error: expect.stringContaining("answered 503") as unknown });

      issuer.pointAt(`${issuer.issuer}/keys/a`);
      await waitFor("the jwks_uri", () => "jwksUri" in (book.results()[issuer.issuer] ?? {}));
      expect(book.results()).toEqual({ [issuer.issuer]: { jwksUri: `${issuer.issuer}/keys/a` } });

      // A failing issuer keeps the last good value...
      issuer.discovery = { status: 500, body: "" };
      const seen = issuer.discoveryRequests;
      await waitFor("two more fetches", () => issuer.discoveryRequests >= seen + 2);
      expect(book.results()).toEqual({ [issuer.issuer]: { jwksUri: `${issuer.issuer}/keys/a` } });
      // ...and a document naming another issuer is refused the same way.
      issuer.discovery = { status: 200, body: JSON.stringify({ issuer: "http://evil.test", jwks_uri: "http://evil.test/keys" }) };
      const seen2 = issuer.discoveryRequests;
      await waitFor("two more fetches", () => issuer.discoveryRequests >= seen2 + 2);
      expect(book.results()).toEqual({ [issuer.issuer]: { jwksUri: `${issuer.issuer}/keys/a` } });

      // A new jwks_uri replaces it, and is announced.
      const before = changes;
      issuer.pointAt(`${issuer.issuer}/keys/b`);
      await waitFor("the new jwks_uri", () => book.results()[issuer.issuer]?.["jwksUri" as never] === `${issuer.issuer}/keys/b`);
      expect(changes).toBeGreaterThan(before);

      // An issuer no policy names any longer is forgotten and no longer fetched.
      book.want(new Map());
      expect(book.results()).toEqual({});
      const after = issuer.discoveryRequests;
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(issuer.discoveryRequests).toBe(after);
    } finally {
      book.stop();
    }
  });
});
