/**
 * A sample mobile client for tests: a DPoP key pair that signs proofs (RFC 9449) the way an app
 * does, and a local issuer of DPoP-bound access tokens and attestation tokens.
 */
import { createHash, randomUUID } from "node:crypto";
import { calculateJwkThumbprint, exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from "jose";

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
  /** Leave the `jwk` header out (adversarial tests). */
  omitJwk?: boolean;
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
    return new SignJWT(claims)
      .setProtectedHeader({ alg: this.alg, typ: options.typ ?? "dpop+jwt", ...(options.omitJwk ? {} : { jwk: options.jwk ?? this.publicJwk }) })
      .sign(this.privateKey);
  }
}

/** What `TestIssuer.signRaw` may change, for adversarial tokens. */
export interface RawTokenOptions {
  /** Protected header members over the issuer's (alg, kid). */
  header?: Record<string, unknown>;
  /** The whole payload, as given (no iss, aud, iat or exp added). */
  payload: JWTPayload;
  /** Extension parameters named in the header's `crit` that jose should sign anyway (adversarial tests). */
  crit?: Record<string, boolean>;
}

/** An issuer of JWTs with one key (ES256 unless told): access tokens (bound or not) and attestation tokens. */
export class TestIssuer {
  private constructor(
    readonly issuer: string,
    readonly kid: string,
    readonly alg: string,
    private readonly privateKey: CryptoKey,
    readonly publicKey: CryptoKey,
    readonly jwks: { keys: JWK[] },
  ) {}

  static async create(issuer: string, kid = "k1", alg = "ES256"): Promise<TestIssuer> {
    const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
    return new TestIssuer(issuer, kid, alg, privateKey, publicKey, { keys: [{ ...(await exportJWK(publicKey)), kid, alg, use: "sig" }] });
  }

  /** The public key as SPKI PEM: what an attacker who reads the JWKS can hold. */
  async publicKeyPem(): Promise<string> {
    return exportSPKI(this.publicKey);
  }

  sign(claims: JWTPayload, options: { audience: string | string[]; lifetimeSeconds?: number; iat?: number; kid?: string }): Promise<string> {
    const iat = options.iat ?? Math.floor(Date.now() / 1000);
    return new SignJWT(claims)
      .setProtectedHeader({ alg: this.alg, kid: options.kid ?? this.kid })
      .setIssuer(this.issuer)
      .setAudience(options.audience)
      .setIssuedAt(iat)
      .setExpirationTime(iat + (options.lifetimeSeconds ?? 300))
      .sign(this.privateKey);
  }

  /** A token signed with this issuer's key and exactly the given payload and header members. */
  signRaw(options: RawTokenOptions): Promise<string> {
    return new SignJWT(options.payload).setProtectedHeader({ alg: this.alg, kid: this.kid, ...options.header }).sign(this.privateKey, options.crit ? { crit: options.crit } : {});
  }
}
