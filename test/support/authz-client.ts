/**
 * A sample mobile client for tests: a DPoP key pair that signs proofs (RFC 9449) the way an app
 * does, and a local issuer of DPoP-bound access tokens and attestation tokens.
 */
import { createHash, randomUUID } from "node:crypto";
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from "jose";

export interface ProofOptions {
  htm: string;
  htu: string;
  accessToken?: string;
  nonce?: string;
  /** Seconds since the epoch; now by default. */
  iat?: number;
  jti?: string;
  typ?: string;
  /** Claims to drop or override (adversarial tests). */
  claims?: Record<string, unknown>;
  omit?: string[];
  /** Put these members in the `jwk` header instead of the public key (adversarial tests). */
  jwk?: JWK;
}

export class DpopKey {
  private constructor(
    readonly alg: string,
    readonly privateKey: CryptoKey,
    readonly publicJwk: JWK,
    readonly jkt: string,
  ) {}

  static async generate(alg = "ES256"): Promise<DpopKey> {
    const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
    const publicJwk = await exportJWK(publicKey);
    return new DpopKey(alg, privateKey, publicJwk, await calculateJwkThumbprint(publicJwk, "sha256"));
  }

  async proof(options: ProofOptions): Promise<string> {
    const claims: Record<string, unknown> = {
      jti: options.jti ?? randomUUID(),
      htm: options.htm,
      htu: options.htu,
      iat: options.iat ?? Math.floor(Date.now() / 1000),
      ...(options.accessToken !== undefined ? { ath: createHash("sha256").update(options.accessToken).digest("base64url") } : {}),
      ...(options.nonce !== undefined ? { nonce: options.nonce } : {}),
      ...options.claims,
    };
    for (const k of options.omit ?? []) delete claims[k];
    return new SignJWT(claims).setProtectedHeader({ alg: this.alg, typ: options.typ ?? "dpop+jwt", jwk: options.jwk ?? this.publicJwk }).sign(this.privateKey);
  }
}

/** An issuer of JWTs with one ES256 key: access tokens (bound or not) and attestation tokens. */
export class TestIssuer {
  private constructor(
    readonly issuer: string,
    readonly kid: string,
    private readonly privateKey: CryptoKey,
    readonly jwks: { keys: JWK[] },
  ) {}

  static async create(issuer: string, kid = "k1"): Promise<TestIssuer> {
    const { publicKey, privateKey } = await generateKeyPair("ES256");
    return new TestIssuer(issuer, kid, privateKey, { keys: [{ ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" }] });
  }

  sign(claims: JWTPayload, options: { audience: string; lifetimeSeconds?: number; iat?: number; kid?: string }): Promise<string> {
    const iat = options.iat ?? Math.floor(Date.now() / 1000);
    return new SignJWT(claims)
      .setProtectedHeader({ alg: "ES256", kid: options.kid ?? this.kid })
      .setIssuer(this.issuer)
      .setAudience(options.audience)
      .setIssuedAt(iat)
      .setExpirationTime(iat + (options.lifetimeSeconds ?? 300))
      .sign(this.privateKey);
  }
}
