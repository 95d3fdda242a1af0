import { createServer, type Server } from "node:http";
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from "jose";

/** One signing key of a test issuer, with its public JWKS. */
export interface SigningKey {
  jwks: { keys: Record<string, unknown>[] };
  sign(claims: JWTPayload, options: { issuer: string; audience: string }): Promise<string>;
}

export async function signingKey(kid: string): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair("ES256");
  return {
    jwks: { keys: [{ ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" }] },
    sign: (claims, options) => {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT(claims)
        .setProtectedHeader({ alg: "ES256", kid })
        .setIssuer(options.issuer)
        .setAudience(options.audience)
        .setIssuedAt(now)
        .setExpirationTime(now + 600)
        .sign(privateKey);
    },
  };
}

/**
 * A real OpenID issuer on loopback (plain http): `/.well-known/openid-configuration` answers
 * `discovery` (a document, or a raw answer for the failure cases), `/keys/<name>` the key sets
 * set with `publish`. `issuer` is `http://127.0.0.1:<port>`.
 */
export interface OidcIssuer {
  issuer: string;
  port: number;
  /** What the discovery endpoint answers next. */
  discovery: { status: number; body: string; headers?: Record<string, string> };
  /** Requests to the discovery endpoint so far. */
  discoveryRequests: number;
  publish(name: string, jwks: unknown): string;
  /** Sets the discovery document to name this issuer and `jwksUri`. */
  pointAt(jwksUri: string): void;
  close(): Promise<void>;
}

export async function startOidcIssuer(): Promise<OidcIssuer> {
  const sets = new Map<string, string>();
  const server: Server = createServer((req, res) => {
    const path = req.url ?? "/";
    if (path === "/.well-known/openid-configuration") {
      issuer.discoveryRequests += 1;
      res.writeHead(issuer.discovery.status, { "content-type": "application/json", ...issuer.discovery.headers });
      res.end(issuer.discovery.body);
      return;
    }
    const set = path.startsWith("/keys/") ? sets.get(path.slice("/keys/".length)) : undefined;
    if (set === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end(set);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (!address || typeof address !== "object") throw new Error("the issuer has no port");
  const base = `http://127.0.0.1:${address.port}`;
  const issuer: OidcIssuer = {
    issuer: base,
    port: address.port,
    discovery: { status: 503, body: "{}" },
    discoveryRequests: 0,
    publish: (name, jwks) => {
      sets.set(name, JSON.stringify(jwks));
      return `${base}/keys/${name}`;
    },
    pointAt: (jwksUri) => {
      issuer.discovery = { status: 200, body: JSON.stringify({ issuer: base, jwks_uri: jwksUri, id_token_signing_alg_values_supported: ["ES256"] }) };
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return issuer;
}
