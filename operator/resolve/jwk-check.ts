import { createPublicKey } from "node:crypto";

/**
 * What a key of an inline key set must be for both verifiers to load it: Envoy's jwt_authn (its
 * JWKS parser and BoringSSL) and jose in bulwark authz. Envoy refuses a whole inline set whose
 * only key it cannot load, and with it the sidecar's listener, so a set is accepted only when
 * every key passes. Checked against the Envoy binary (test/integration/translate/jwks-envoy.test.ts).
 */

/** Signature algorithms a key may name, by key type (and curve for EC and OKP). */
const EC_ALGORITHMS: Readonly<Record<string, string>> = { "P-256": "ES256", "P-384": "ES384", "P-521": "ES512" };
const RSA_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"];
const HMAC_ALGORITHMS = ["HS256", "HS384", "HS512"];
/** Smaller RSA keys can be factored (and jose refuses them); BoringSSL refuses larger moduli. */
const MIN_RSA_BITS = 2048;
const MAX_RSA_BITS = 16384;
/** The only public exponents BoringSSL loads. */
const RSA_EXPONENTS = [3n, 65537n];
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth"];
const BASE64URL = /^[A-Za-z0-9_-]+$/;

function algProblem(alg: unknown, allowed: readonly string[]): string | undefined {
  if (alg === undefined || (typeof alg === "string" && allowed.includes(alg))) return undefined;
  return `alg ${JSON.stringify(alg)} is not allowed for this key (allowed: ${allowed.join(", ")}, or no alg)`;
}

/** Imports the public key with node:crypto (which checks that an EC point is on its curve, and the encodings). */
function importProblem(jwk: Record<string, unknown>): { problem: string } | { bits?: number; exponent?: bigint } {
  try {
    const details = createPublicKey({ key: jwk, format: "jwk" }).asymmetricKeyDetails;
    return {
      ...(details?.modulusLength !== undefined ? { bits: details.modulusLength } : {}),
      ...(details?.publicExponent !== undefined ? { exponent: details.publicExponent } : {}),
    };
  } catch (error) {
    return { problem: `it cannot be imported as a public key (${error instanceof Error ? error.message : "unreadable"})` };
  }
}

function ecProblem(jwk: Record<string, unknown>): string | undefined {
  const alg = typeof jwk.crv === "string" ? EC_ALGORITHMS[jwk.crv] : undefined;
  if (!alg) return `crv ${JSON.stringify(jwk.crv)} is not supported (allowed: ${Object.keys(EC_ALGORITHMS).join(", ")})`;
  const imported = importProblem(jwk);
  if ("problem" in imported) return imported.problem;
  return algProblem(jwk.alg, [alg]);
}

function rsaProblem(jwk: Record<string, unknown>): string | undefined {
  const imported = importProblem(jwk);
  if ("problem" in imported) return imported.problem;
  const bits = imported.bits ?? 0;
  if (bits < MIN_RSA_BITS || bits > MAX_RSA_BITS) return `its modulus has ${bits} bits (allowed: ${MIN_RSA_BITS} to ${MAX_RSA_BITS})`;
  if (imported.exponent === undefined || !RSA_EXPONENTS.includes(imported.exponent)) return `its public exponent ${String(imported.exponent)} is not supported (allowed: 3, 65537)`;
  return algProblem(jwk.alg, RSA_ALGORITHMS);
}

function okpProblem(jwk: Record<string, unknown>): string | undefined {
  if (jwk.crv !== "Ed25519") return `crv ${JSON.stringify(jwk.crv)} is not supported for OKP keys (allowed: Ed25519)`;
  const imported = importProblem(jwk);
  if ("problem" in imported) return imported.problem;
  // Envoy's JWKS parser knows the OKP signature algorithm only by its JWA name.
  return algProblem(jwk.alg, ["EdDSA"]);
}

function octProblem(jwk: Record<string, unknown>): string | undefined {
  if (typeof jwk.k !== "string" || !BASE64URL.test(jwk.k)) return "k must be a non-empty base64url string";
  return algProblem(jwk.alg, HMAC_ALGORITHMS);
}

const BY_KEY_TYPE: Readonly<Record<string, (jwk: Record<string, unknown>) => string | undefined>> = { EC: ecProblem, RSA: rsaProblem, OKP: okpProblem, oct: octProblem };

/** Why a member of `keys` cannot verify signatures in Envoy and in authz, or undefined when it can. */
export function verificationKeyProblem(jwk: unknown): string | undefined {
  if (typeof jwk !== "object" || jwk === null || Array.isArray(jwk)) return "it is not a JSON object";
  const key = jwk as Record<string, unknown>;
  if (key.kid !== undefined && typeof key.kid !== "string") return "kid must be a string";
  if (key.use !== undefined && key.use !== "sig") return `use ${JSON.stringify(key.use)} is not for signatures (allowed: sig, or no use)`;
  if (key.key_ops !== undefined && !(Array.isArray(key.key_ops) && key.key_ops.includes("verify"))) return 'key_ops must include "verify" when present';
  const check = typeof key.kty === "string" ? BY_KEY_TYPE[key.kty] : undefined;
  if (!check) return `kty ${JSON.stringify(key.kty)} is not supported (allowed: ${Object.keys(BY_KEY_TYPE).join(", ")})`;
  if (key.kty !== "oct") {
    const secret = PRIVATE_MEMBERS.find((m) => m in key);
    if (secret) return `it holds private key material (${secret}): publish only the public key`;
  }
  return check(key);
}

/** How a key is named in a message: its kid when it has one, and its position. */
export function keyName(jwk: unknown, index: number): string {
  const kid = typeof jwk === "object" && jwk !== null ? (jwk as { kid?: unknown }).kid : undefined;
  return typeof kid === "string" ? `key ${index} (kid ${JSON.stringify(kid.length > 64 ? `${kid.slice(0, 64)}…` : kid)})` : `key ${index}`;
}
