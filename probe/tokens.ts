import { decodeProtectedHeader, generateKeyPair, importJWK, SignJWT, UnsecuredJWT, type JWK, type JWTPayload } from "jose";

/**
 * The tokens an attacker would try, derived with jose only: a token re-signed by a key the issuer
 * never had (tampered), an unsigned one (`alg: none`), and — only when the user hands over a test
 * issuer's signing key (labs) — validly signed ones that are expired, not yet valid, for another
 * audience or older than the provider's maxTokenAge.
 */

/** The claims of `claims` with `sub` changed: what a tampered token would claim. */
function escalated(claims: JWTPayload): JWTPayload {
  return { ...claims, sub: `${String(claims.sub ?? "user")}-tampered` };
}

/**
 * `token`'s header and claims (with `sub` changed), signed by a fresh key of the same algorithm
 * and `kid`: a tampered token whose signature cannot verify with the issuer's keys.
 */
export async function tamperedToken(token: string, claims: JWTPayload): Promise<string> {
  const header = decodeProtectedHeader(token);
  const alg = header.alg ?? "ES256";
  const { privateKey } = await generateKeyPair(alg);
  return new SignJWT(escalated(claims)).setProtectedHeader({ ...header, alg }).sign(privateKey);
}

/** The token's claims without a signature (`alg: none`). */
export function unsignedToken(claims: JWTPayload): string {
  return new UnsecuredJWT(claims).encode();
}

/** A test issuer's private key (a JWK with `kid` and `alg`) given with --issuer-key. */
export interface IssuerKey {
  jwk: JWK;
}

export type SignedVariant = "expired" | "not-yet-valid" | "wrong-audience" | "too-old";

/**
 * A token like `claims` (issuer, audience, subject, scopes, cnf) signed by the test issuer's key,
 * made invalid in one way. `maxAgeSeconds` is the provider's maxTokenAge, for `too-old`.
 */
export async function signedVariant(key: IssuerKey, claims: JWTPayload, variant: SignedVariant, maxAgeSeconds?: number): Promise<string> {
  const alg = key.jwk.alg ?? "ES256";
  const privateKey = await importJWK(key.jwk, alg);
  const now = Math.floor(Date.now() / 1000);
  const base: JWTPayload = { ...claims };
  delete base.exp;
  delete base.nbf;
  delete base.iat;
  const times: Record<SignedVariant, JWTPayload> = {
    expired: { iat: now - 1200, exp: now - 600 },
    "not-yet-valid": { iat: now, nbf: now + 600, exp: now + 900 },
    "wrong-audience": { iat: now, exp: now + 300, aud: "probe-wrong-audience" },
    "too-old": { iat: now - (maxAgeSeconds ?? 3600) - 300, exp: now + 60 },
  };
  return new SignJWT({ ...base, ...times[variant] }).setProtectedHeader({ alg, ...(key.jwk.kid ? { kid: key.jwk.kid } : {}), typ: "JWT" }).sign(privateKey);
}
