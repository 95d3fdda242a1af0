import { createHash, randomUUID } from "node:crypto";
import { exportJWK, generateKeyPair, importJWK, SignJWT, type CryptoKey, type JWK } from "jose";

/**
 * DPoP proofs (RFC 9449) for the test users, signed with jose: the key a user's tokens are bound
 * to (given with --dpop-key-a/-b as a private JWK), or a fresh key of the attacker's.
 */

export interface DpopKey {
  alg: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

function publicPart(jwk: JWK): JWK {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, oth: _oth, k: _k, key_ops: _ops, ...rest } = jwk;
  return rest;
}

/** A user's DPoP key from its private JWK (alg ES256 unless the JWK says otherwise). */
export async function dpopKeyFrom(jwk: JWK): Promise<DpopKey> {
  const alg = jwk.alg ?? "ES256";
  const privateKey = (await importJWK(jwk, alg)) as CryptoKey;
  const { kid: _kid, alg: _alg, use: _use, ...bare } = publicPart(jwk);
  return { alg, privateKey, publicJwk: bare };
}

/** A key nobody's token is bound to: what a thief signs proofs with. */
export async function otherDpopKey(alg = "ES256"): Promise<DpopKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { alg, privateKey, publicJwk: await exportJWK(publicKey) };
}

/** The htu of a request to `url`: without query and fragment (RFC 9449 section 4.2). */
export function htuOf(url: string): string {
  return url.replace(/[?#].*$/s, "");
}

export async function dpopProof(key: DpopKey, options: { method: string; url: string; accessToken: string; nonce?: string }): Promise<string> {
  const claims: Record<string, unknown> = {
    jti: randomUUID(),
    htm: options.method,
    htu: htuOf(options.url),
    iat: Math.floor(Date.now() / 1000),
    ath: createHash("sha256").update(options.accessToken).digest("base64url"),
    ...(options.nonce !== undefined ? { nonce: options.nonce } : {}),
  };
  return new SignJWT(claims).setProtectedHeader({ alg: key.alg, typ: "dpop+jwt", jwk: key.publicJwk }).sign(key.privateKey);
}
