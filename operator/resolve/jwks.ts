import { ResolvedRefsReason } from "../api/v1alpha1/conditions.js";
import { keyName, verificationKeyProblem } from "./jwk-check.js";
import { namespaceOf, type SecretObject } from "./objects.js";

/**
 * The key set used when a JWKS reference is broken: one P-256 public key whose private key was
 * discarded when it was generated, so no token verifies and the route fails closed. (Envoy
 * refuses an empty key set outright, which would reject the whole sidecar configuration.)
 */
export const UNUSABLE_JWKS = JSON.stringify({
  keys: [
    {
      kty: "EC",
      crv: "P-256",
      kid: "bulwark-unavailable",
      use: "sig",
      alg: "ES256",
      x: "-vHV8-wEzSWxa72yMKDjpFX_QXcYctzjdsUiIoau7Zg",
      y: "fZNqtU9pDRd0gcN56jV_ygnAQY69n_161ylDoSZpIxY",
    },
  ],
});

export type JwksFromSecret = { ok: true; jwks: string } | { ok: false; reason: string; message: string };

function secretValue(secret: SecretObject, key: string): string | undefined {
  const fromString = secret.stringData?.[key];
  if (fromString !== undefined) return fromString;
  const encoded = secret.data?.[key];
  return encoded === undefined ? undefined : Buffer.from(encoded, "base64").toString("utf8");
}

/** Reads and checks a JSON Web Key Set from a Secret of the policy's namespace. */
export function jwksFromSecret(options: { secrets: readonly SecretObject[]; namespace: string; name: string; key: string; usedBy: string }): JwksFromSecret {
  const { secrets, namespace, name, key, usedBy } = options;
  const secret = secrets.find((s) => s.metadata.name === name && namespaceOf(s.metadata) === namespace);
  if (!secret) {
    return { ok: false, reason: ResolvedRefsReason.SecretNotFound, message: `Secret ${namespace}/${name} (JWKS of ${usedBy}) not found; its tokens are refused until it exists` };
  }
  const value = secretValue(secret, key);
  if (value === undefined) {
    return { ok: false, reason: ResolvedRefsReason.InvalidSecret, message: `Secret ${namespace}/${name} has no key ${key} (JWKS of ${usedBy}); its tokens are refused` };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (error) {
    return invalidSet(options, `is not JSON (${error instanceof Error ? error.message : "unreadable"})`);
  }
  const keys = typeof parsed === "object" && parsed !== null ? (parsed as { keys?: unknown }).keys : undefined;
  if (!Array.isArray(keys)) return invalidSet(options, 'is not a JSON Web Key Set (an object with a "keys" array)');
  if (keys.length === 0) return invalidSet(options, "is a JSON Web Key Set without keys");
  // Every key is imported: Envoy refuses a set it cannot load, and the sidecar's whole listener with it.
  for (const [index, jwk] of keys.entries()) {
    const problem = verificationKeyProblem(jwk);
    if (problem) return invalidSet(options, `has an unusable ${keyName(jwk, index)}: ${problem}`);
  }
  return { ok: true, jwks: JSON.stringify({ keys }) };
}

function invalidSet(options: { namespace: string; name: string; key: string; usedBy: string }, why: string): JwksFromSecret {
  const { namespace, name, key, usedBy } = options;
  return { ok: false, reason: ResolvedRefsReason.InvalidSecret, message: `Secret ${namespace}/${name} key ${key} ${why} (JWKS of ${usedBy}); its tokens are refused` };
}
