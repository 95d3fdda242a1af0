/**
 * A local token issuer for end-to-end tests: a real HTTP server with
 * - `GET /.well-known/jwks.json`: its public keys (what `jwks.remote.uri` names);
 * - `POST /token` (form: grant_type=password, username, password): checks the client's DPoP
 *   proof (RFC 9449 section 4.3 and 5, with server nonces per section 8 when asked) and answers a
 *   short-lived access token bound to the proof's key (`cnf.jkt`), token_type DPoP;
 * - `sign(...)`: tokens minted directly (attestation tokens, a Firebase App Check-style issuer).
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { calculateJwkThumbprint, EmbeddedJWK, errors, exportJWK, generateKeyPair, jwtVerify, SignJWT, type CryptoKey, type JWK, type JWTPayload } from "jose";
import { DpopNonces } from "../../services/authz/dpop-nonce.js";
import { errorMessage } from "../../common/errors.js";

export interface TokenIssuerOptions {
  /** The `iss` of every token; the server's own URL when absent. */
  issuer?: string;
  /** The `aud` of access tokens. */
  audience: string;
  /** username → password of the users who may get tokens. */
  users?: Record<string, string>;
  /** Access-token lifetime. Default 300 s. */
  lifetimeSeconds?: number;
  /** Require a server nonce in token requests' proofs. */
  requireNonce?: boolean;
}

const PROOF_ALGORITHMS = ["ES256", "EdDSA", "PS256"];
const MAX_PROOF_AGE_SECONDS = 60;
const MAX_BODY_BYTES = 16 * 1024;

class TokenError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly description: string,
  ) {
    super(description);
  }
}

export class LocalTokenIssuer {
  private readonly seenJtis = new Map<string, number>();
  private readonly nonces = new DpopNonces();
  /** Access tokens issued (for assertions). */
  issued = 0;

  private constructor(
    private readonly server: Server,
    readonly url: string,
    readonly issuer: string,
    readonly kid: string,
    private readonly privateKey: CryptoKey,
    readonly jwks: { keys: JWK[] },
    private readonly options: TokenIssuerOptions,
  ) {}

  /** Starts the server on 127.0.0.1 and a free port. */
  static async start(options: TokenIssuerOptions): Promise<LocalTokenIssuer> {
    const { publicKey, privateKey } = await generateKeyPair("ES256");
    const kid = `local-${randomUUID().slice(0, 8)}`;
    const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" }] };
    const started: { issuer?: LocalTokenIssuer } = {};
    const server = createServer((req, res) => {
      const issuer = started.issuer;
      if (!issuer) return void res.writeHead(503).end();
      issuer.handle(req, res).catch((error: unknown) => json(res, 500, { error: "server_error", error_description: errorMessage(error) }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    if (!address || typeof address !== "object") throw new Error("the issuer has no port");
    const url = `http://127.0.0.1:${address.port}`;
    const issuer = new LocalTokenIssuer(server, url, options.issuer ?? url, kid, privateKey, jwks, options);
    started.issuer = issuer;
    return issuer;
  }

  get jwksUri(): string {
    return `${this.url}/.well-known/jwks.json`;
  }

  get tokenEndpoint(): string {
    return `${this.url}/token`;
  }

  /** A token signed with the issuer's key: iss, iat and exp set, the rest from `claims`. */
  sign(claims: JWTPayload & { aud: string | string[] }, lifetimeSeconds = 300): Promise<string> {
    const iat = Math.floor(Date.now() / 1000);
    return new SignJWT(claims)
      .setProtectedHeader({ alg: "ES256", kid: this.kid })
      .setIssuer(this.issuer)
      .setIssuedAt(iat)
      .setExpirationTime(iat + lifetimeSeconds)
      .sign(this.privateKey);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method === "GET" && path === "/.well-known/jwks.json") return json(res, 200, this.jwks, { "cache-control": "max-age=60" });
    if (path !== "/token") return json(res, 404, { error: "not_found" });
    if (req.method !== "POST") return json(res, 405, { error: "invalid_request", error_description: "use POST" });
    try {
      const form = new URLSearchParams(await readBody(req));
      const jkt = await this.verifyProof(req.headers.dpop);
      const token = await this.grant(form, jkt);
      this.issued += 1;
      json(
        res,
        200,
        { access_token: token, token_type: "DPoP", expires_in: this.options.lifetimeSeconds ?? 300 },
        { "dpop-nonce": this.nonces.current(), "cache-control": "no-store" },
      );
    } catch (error) {
      if (!(error instanceof TokenError)) throw error;
      const nonce: Record<string, string> = error.error === "use_dpop_nonce" ? { "dpop-nonce": this.nonces.current() } : {};
      json(res, error.status, { error: error.error, error_description: error.description }, nonce);
    }
  }

  /** The proof of the token request (RFC 9449 section 4.3); returns the thumbprint of its key. */
  private async verifyProof(header: string | string[] | undefined): Promise<string> {
    if (typeof header !== "string" || header === "" || header.includes(",")) throw new TokenError(400, "invalid_dpop_proof", "exactly one DPoP proof is required");
    let payload: JWTPayload;
    let jwk: JWK;
    try {
      const verified = await jwtVerify(header, EmbeddedJWK, {
        typ: "dpop+jwt",
        algorithms: PROOF_ALGORITHMS,
        maxTokenAge: MAX_PROOF_AGE_SECONDS,
        clockTolerance: 5,
        requiredClaims: ["jti", "htm", "htu", "iat"],
      });
      payload = verified.payload;
      jwk = verified.protectedHeader.jwk as JWK;
    } catch (error) {
      if (error instanceof errors.JOSEError) throw new TokenError(400, "invalid_dpop_proof", error.message);
      throw error;
    }
    if (payload.htm !== "POST" || typeof payload.htu !== "string" || stripQuery(payload.htu) !== this.tokenEndpoint)
      throw new TokenError(400, "invalid_dpop_proof", "htm/htu do not name this endpoint");
    const jti = String(payload.jti);
    const now = Date.now();
    for (const [k, expires] of this.seenJtis) if (expires < now) this.seenJtis.delete(k);
    if (this.seenJtis.has(jti)) throw new TokenError(400, "invalid_dpop_proof", "proof replayed");
    if (this.options.requireNonce && (typeof payload.nonce !== "string" || !this.nonces.isValid(payload.nonce)))
      throw new TokenError(400, "use_dpop_nonce", "a server nonce is required");
    this.seenJtis.set(jti, now + (MAX_PROOF_AGE_SECONDS + 5) * 1000);
    return calculateJwkThumbprint(jwk, "sha256");
  }

  private grant(form: URLSearchParams, jkt: string): Promise<string> {
    if (form.get("grant_type") !== "password") throw new TokenError(400, "unsupported_grant_type", "only grant_type=password");
    const username = form.get("username") ?? "";
    const expected = this.options.users?.[username];
    if (expected === undefined || form.get("password") !== expected) throw new TokenError(400, "invalid_grant", "unknown user or wrong password");
    return this.sign({ sub: username, aud: this.options.audience, cnf: { jkt }, jti: randomUUID() }, this.options.lifetimeSeconds ?? 300);
  }
}

function stripQuery(uri: string): string | undefined {
  try {
    const url = new URL(uri);
    return `${url.protocol}//${url.host}${url.pathname}`;
  } catch {
    return undefined;
  }
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(body));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new TokenError(413, "invalid_request", "request body too large"));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}
