/**
 * Inline key sets at the edges of what Envoy's jwt_authn and bulwark authz can load: each says
 * whether Bulwark accepts it (and if not, what its status message must name) and whether Envoy
 * alone would load it. Shared by the unit test of the checks and the test through the real Envoy.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";

export interface JwksCase {
  name: string;
  jwks: unknown;
  /** undefined when Bulwark accepts the set; otherwise what its message says. */
  refused?: RegExp;
  /** What the Envoy binary does with the set when nothing checks it first. */
  envoyAlone: "loads" | "refuses";
}

type Jwk = Record<string, unknown>;

function publicJwk(type: "ec" | "ed25519" | "ed448" | "x25519", curve = "P-256"): Jwk {
  const pair =
    type === "ec"
      ? generateKeyPairSync("ec", { namedCurve: curve })
      : type === "ed25519"
        ? generateKeyPairSync("ed25519")
        : type === "ed448"
          ? generateKeyPairSync("ed448")
          : generateKeyPairSync("x25519");
  return pair.publicKey.export({ format: "jwk" });
}

/** An RSA public key of exactly `bits` bits (a random odd modulus: loading a public key does not factor it). */
function rsa(bits: number, exponent = 65537): Jwk {
  const n = randomBytes(bits / 8);
  n[0] = (n[0] ?? 0) | 0x80;
  n[n.length - 1] = (n[n.length - 1] ?? 0) | 1;
  let hex = exponent.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  return { kty: "RSA", n: n.toString("base64url"), e: Buffer.from(hex, "hex").toString("base64url") };
}

export function jwksCases(): JwksCase[] {
  const p256 = publicJwk("ec", "P-256");
  const offCurve = { ...p256, y: Buffer.from(Buffer.from(String(p256.y), "base64url").map((b, i) => (i === 5 ? b ^ 1 : b))).toString("base64url") };
  const ed25519 = publicJwk("ed25519");
  const set = (...keys: unknown[]): unknown => ({ keys });
  return [
    {
      name: "EC P-256, P-384 and P-521 keys with their algorithms",
      jwks: set({ ...p256, kid: "a", alg: "ES256", use: "sig" }, { ...publicJwk("ec", "P-384"), alg: "ES384" }, { ...publicJwk("ec", "P-521"), alg: "ES512", key_ops: ["verify"] }),
      envoyAlone: "loads",
    },
    {
      name: "RSA keys of 2048 and 16384 bits (exponents 65537 and 3), RS and PS algorithms",
      jwks: set({ ...rsa(2048), alg: "RS256" }, { ...rsa(16384), alg: "PS512" }, rsa(4096, 3)),
      envoyAlone: "loads",
    },
    {
      name: "an Ed25519 key (alg EdDSA) and an HMAC key",
      jwks: set({ ...ed25519, alg: "EdDSA" }, { kty: "oct", k: randomBytes(32).toString("base64url"), alg: "HS256" }),
      envoyAlone: "loads",
    },
    {
      name: "an EC key whose point is not on its curve",
      jwks: set({ ...offCurve, kid: "rotated-2026" }),
      refused: /key 0 \(kid "rotated-2026"\): it cannot be imported/,
      envoyAlone: "refuses",
    },
    { name: "an EC key whose crv does not match its coordinates", jwks: set({ ...p256, crv: "P-384" }), refused: /key 0: it cannot be imported/, envoyAlone: "refuses" },
    { name: "an unknown kty", jwks: set({ kty: "XYZ", kid: "x" }), refused: /key 0 \(kid "x"\): kty "XYZ" is not supported \(allowed: EC, RSA, OKP, oct\)/, envoyAlone: "refuses" },
    { name: "an RSA modulus over 16384 bits", jwks: set(rsa(16392)), refused: /key 0: its modulus has 16392 bits \(allowed: 2048 to 16384\)/, envoyAlone: "refuses" },
    {
      name: "an RSA public exponent other than 3 or 65537",
      jwks: set(rsa(2048, 17)),
      refused: /its public exponent 17 is not supported \(allowed: 3, 65537\)/,
      envoyAlone: "refuses",
    },
    { name: "an RSA key without e", jwks: set({ kty: "RSA", n: rsa(2048).n }), refused: /key 0: it cannot be imported/, envoyAlone: "refuses" },
    { name: "a secp256k1 EC key", jwks: set(publicJwk("ec", "secp256k1")), refused: /crv "secp256k1" is not supported \(allowed: P-256, P-384, P-521\)/, envoyAlone: "refuses" },
    { name: "an Ed448 key", jwks: set(publicJwk("ed448")), refused: /crv "Ed448" is not supported for OKP keys \(allowed: Ed25519\)/, envoyAlone: "refuses" },
    { name: "an X25519 key", jwks: set(publicJwk("x25519")), refused: /crv "X25519" is not supported for OKP keys/, envoyAlone: "refuses" },
    {
      name: "an Ed25519 key labelled with the fully-specified alg Ed25519",
      jwks: set({ ...ed25519, alg: "Ed25519" }),
      refused: /alg "Ed25519" is not allowed for this key \(allowed: EdDSA, or no alg\)/,
      envoyAlone: "refuses",
    },
    {
      name: "an EC P-256 key labelled ES384",
      jwks: set({ ...p256, alg: "ES384" }),
      refused: /alg "ES384" is not allowed for this key \(allowed: ES256, or no alg\)/,
      envoyAlone: "refuses",
    },
    { name: "an RSA key labelled ES256", jwks: set({ ...rsa(2048), alg: "ES256" }), refused: /alg "ES256" is not allowed/, envoyAlone: "refuses" },
    { name: "an HMAC key with an empty secret", jwks: set({ kty: "oct", k: "" }), refused: /k must be a non-empty base64url string/, envoyAlone: "refuses" },
    {
      name: "a good key followed by a bad one (Envoy skips the bad one; Bulwark names it)",
      jwks: set({ ...p256, kid: "good" }, { ...offCurve, kid: "bad" }),
      refused: /key 1 \(kid "bad"\): it cannot be imported/,
      envoyAlone: "loads",
    },
    { name: "an RSA key of 1024 bits (factorable)", jwks: set(rsa(1024)), refused: /its modulus has 1024 bits \(allowed: 2048 to 16384\)/, envoyAlone: "loads" },
    {
      name: "an encryption key (use enc, alg RSA-OAEP)",
      jwks: set({ ...rsa(2048), use: "enc", alg: "RSA-OAEP" }),
      refused: /use "enc" is not for signatures/,
      envoyAlone: "loads",
    },
    {
      name: "a private EC key (d would be copied into every sidecar's configuration)",
      jwks: set(generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "jwk" })),
      refused: /it holds private key material \(d\): publish only the public key/,
      envoyAlone: "loads",
    },
    { name: "a kid that is not a string", jwks: set({ ...p256, kid: 5 }), refused: /key 0: kid must be a string/, envoyAlone: "loads" },
    { name: "key_ops without verify", jwks: set({ ...p256, key_ops: ["encrypt"] }), refused: /key_ops must include "verify"/, envoyAlone: "loads" },
    { name: "no keys", jwks: set(), refused: /without keys/, envoyAlone: "refuses" },
    { name: "not a key set", jwks: [p256], refused: /is not a JSON Web Key Set/, envoyAlone: "refuses" },
  ];
}
