import { createHash } from "node:crypto";
import { calculateJwkThumbprint, decodeProtectedHeader, errors, importJWK, jwtVerify, type CryptoKey, type JWK, type ProtectedHeaderParameters } from "jose";
import type { SenderConstraintIR } from "../ir/types.js";
import { allow, refuse, type Decision, type Header, type RefusalReason } from "./decision.js";
import type { DpopNonces } from "./dpop-nonce.js";
import type { ReplayStore } from "./replay-store.js";
import { MAX_CREDENTIAL_HEADER_BYTES, type AuthzRequest } from "./request.js";

export type DpopConfig = NonNullable<SenderConstraintIR["dpop"]>;

export interface DpopDeps {
  /** Milliseconds since the epoch. */
  now: () => number;
  replay: ReplayStore;
  nonces: DpopNonces;
  /** Tolerance for proofs dated slightly in the future. */
  clockSkewSeconds?: number;
}

/**
 * Imported proof keys and their thumbprints, by algorithm and JWK: an app signs every proof with
 * the same key, so importing it once per client saves most of a check's cost. Bounded; the
 * oldest entries go first.
 */
const proofKeys = new Map<string, Promise<{ key: CryptoKey; jkt: string }>>();
const PROOF_KEY_CACHE_SIZE = 10_000;

function proofKey(jwk: JWK, alg: string): Promise<{ key: CryptoKey; jkt: string }> {
  const id = `${alg} ${JSON.stringify(jwk)}`;
  let entry = proofKeys.get(id);
  if (!entry) {
    entry = (async (): Promise<{ key: CryptoKey; jkt: string }> => {
      const key = await importJWK(jwk, alg);
      if (!(typeof key === "object" && "type" in key && key.type === "public")) throw new errors.JWKInvalid("the proof key must be a public key");
      return { key, jkt: await calculateJwkThumbprint(jwk, "sha256") };
    })();
    entry.catch(() => proofKeys.delete(id));
    proofKeys.set(id, entry);
    if (proofKeys.size > PROOF_KEY_CACHE_SIZE) {
      const oldest = proofKeys.keys().next().value;
      if (oldest !== undefined) proofKeys.delete(oldest);
    }
  }
  return entry;
}

const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];
const DEFAULT_SKEW_SECONDS = 5;

/** base64url SHA-256 of the access token (the proof's `ath`). */
export function accessTokenHash(token: string): string {
  return createHash("sha256").update(token, "ascii").digest("base64url");
}

function normalisePercentEncoding(path: string): string {
  return path.replace(/%[0-9a-fA-F]{2}/g, (m) => {
    const c = String.fromCharCode(Number.parseInt(m.slice(1), 16));
    return /[A-Za-z0-9\-._~]/.test(c) ? c : m.toUpperCase();
  });
}

/**
 * An HTTP URI without query and fragment, normalised as RFC 9449 section 4.3 asks (RFC 3986
 * syntax- and scheme-based normalisation: case of scheme and host, default port, dot segments,
 * percent-encoding); undefined when it is not an http(s) URI.
 */
export function normaliseHtu(uri: string): string | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return undefined;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
  url.hash = "";
  url.search = "";
  url.username = "";
  url.password = "";
  return `${url.protocol}//${url.host}${normalisePercentEncoding(url.pathname)}`;
}

/** The URI of the request as the client addressed it, normalised like `htu`. */
export function requestHtu(request: Pick<AuthzRequest, "scheme" | "host" | "path">): string | undefined {
  const q = request.path.search(/[?#]/);
  const path = q === -1 ? request.path : request.path.slice(0, q);
  return normaliseHtu(`${request.scheme || "http"}://${request.host}${path}`);
}

function parseAuthorization(value: string | undefined): { scheme: string; token: string } | undefined {
  const m = value === undefined ? null : /^([A-Za-z]+) +([A-Za-z0-9\-._~+/]+=*)$/.exec(value);
  return m?.[1] && m[2] ? { scheme: m[1].toLowerCase(), token: m[2] } : undefined;
}

function boundJkt(payload: Readonly<Record<string, unknown>>): string | undefined {
  const cnf = payload.cnf;
  if (typeof cnf !== "object" || cnf === null) return undefined;
  const jkt = (cnf as Record<string, unknown>).jkt;
  return typeof jkt === "string" ? jkt : undefined;
}

function challenge(config: DpopConfig, error: "invalid_dpop_proof" | "invalid_token" | "use_dpop_nonce", description: string): Header {
  return { name: "www-authenticate", value: `DPoP error="${error}", error_description="${description}", algs="${config.algorithms.join(" ")}"` };
}

function proofRefusal(config: DpopConfig, reason: RefusalReason, description: string): Decision {
  return refuse(401, reason, { headers: [challenge(config, "invalid_dpop_proof", description)] });
}

function tokenRefusal(config: DpopConfig, reason: RefusalReason, description: string): Decision {
  return refuse(401, reason, { headers: [challenge(config, "invalid_token", description)] });
}

interface ProofClaims {
  jti: string;
  htm: string;
  htu: string;
  iat: number;
  ath?: unknown;
  nonce?: unknown;
}

function proofClaims(payload: Record<string, unknown>): ProofClaims | undefined {
  const { jti, htm, htu, iat } = payload;
  if (typeof jti !== "string" || jti.length === 0 || jti.length > 512) return undefined;
  if (typeof htm !== "string" || typeof htu !== "string" || typeof iat !== "number" || !Number.isFinite(iat)) return undefined;
  return { jti, htm, htu, iat, ath: payload.ath, nonce: payload.nonce };
}

/** Verifies the proof's signature with the public key it embeds, after checking the header. */
async function verifyProof(proof: string, config: DpopConfig, now: number): Promise<{ header: ProtectedHeaderParameters; payload: Record<string, unknown>; jkt: string } | Decision> {
  let header: ProtectedHeaderParameters;
  try {
    header = decodeProtectedHeader(proof);
  } catch {
    return proofRefusal(config, "dpop_proof_malformed", "not a JWS");
  }
  if (header.typ !== "dpop+jwt") return proofRefusal(config, "dpop_proof_typ", "typ must be dpop+jwt");
  if (typeof header.alg !== "string" || !config.algorithms.includes(header.alg)) return proofRefusal(config, "dpop_proof_alg", "unsupported algorithm");
  const jwk = header.jwk as Record<string, unknown> | undefined;
  if (typeof jwk !== "object" || jwk === null) return proofRefusal(config, "dpop_proof_malformed", "no jwk header");
  if (PRIVATE_MEMBERS.some((m) => m in jwk)) return proofRefusal(config, "dpop_proof_private_key", "jwk must be a public key");
  try {
    const { key, jkt } = await proofKey(jwk, header.alg);
    const { payload } = await jwtVerify(proof, key, { typ: "dpop+jwt", algorithms: config.algorithms, currentDate: new Date(now) });
    return { header, payload, jkt };
  } catch (error) {
    if (error instanceof errors.JWSSignatureVerificationFailed) return proofRefusal(config, "dpop_proof_signature", "signature does not verify");
    if (error instanceof errors.JWTExpired) return proofRefusal(config, "dpop_proof_iat", "proof has expired");
    if (error instanceof errors.JWTClaimValidationFailed) return proofRefusal(config, "dpop_proof_claims", "malformed claims");
    return proofRefusal(config, "dpop_proof_malformed", "proof cannot be verified");
  }
}

/**
 * DPoP (RFC 9449 section 4.3 and 7.1): the request carries one proof, signed by the key the
 * access token is bound to (`cnf.jkt`), for this method and URI, fresh, over this token (`ath`),
 * never seen before (`jti`), with a server nonce when one is required.
 *
 * Without a verified token (an Optional route called anonymously) there is nothing to bind; a
 * token without `cnf.jkt` passes only when DPoP is not required.
 */
export async function checkDpop(request: AuthzRequest, config: DpopConfig, deps: DpopDeps): Promise<Decision | undefined> {
  const payload = request.jwtPayload;
  if (!payload) return config.required && request.headers.authorization !== undefined ? tokenRefusal(config, "token_missing", "no verified access token") : undefined;
  const jkt = boundJkt(payload);
  if (jkt === undefined) return config.required ? tokenRefusal(config, "dpop_token_not_bound", "access token is not DPoP-bound") : undefined;
  const authorization = parseAuthorization(request.headers.authorization);
  if (!authorization) return tokenRefusal(config, "token_malformed", "malformed Authorization header");
  if (authorization.scheme !== "dpop") return tokenRefusal(config, "dpop_bound_token_as_bearer", "DPoP-bound token must use the DPoP scheme");

  const proof = request.headers.dpop;
  if (proof === undefined || proof === "") return proofRefusal(config, "dpop_proof_missing", "DPoP proof required");
  if (proof.length > MAX_CREDENTIAL_HEADER_BYTES) return proofRefusal(config, "dpop_proof_oversized", "DPoP proof too large");
  if (proof.includes(",")) return proofRefusal(config, "dpop_proof_multiple", "exactly one DPoP proof");

  const now = deps.now();
  const verified = await verifyProof(proof, config, now);
  if ("allowed" in verified) return verified;
  const claims = proofClaims(verified.payload);
  if (!claims) return proofRefusal(config, "dpop_proof_claims", "jti, htm, htu and iat are required");
  if (claims.htm !== request.method) return proofRefusal(config, "dpop_proof_htm", "htm does not match the method");
  const expectedHtu = requestHtu(request);
  if (expectedHtu === undefined || normaliseHtu(claims.htu) !== expectedHtu) return proofRefusal(config, "dpop_proof_htu", "htu does not match the URI");
  const nowSeconds = now / 1000;
  const skew = deps.clockSkewSeconds ?? DEFAULT_SKEW_SECONDS;
  if (nowSeconds - claims.iat > config.maxProofAgeSeconds || claims.iat - nowSeconds > skew) return proofRefusal(config, "dpop_proof_iat", "proof is stale or from the future");

  const nonceHeaders: Header[] = [];
  if (config.requireNonce || claims.nonce !== undefined) {
    if (typeof claims.nonce !== "string" || !deps.nonces.isValid(claims.nonce)) {
      return refuse(401, "dpop_nonce_required", { headers: [challenge(config, "use_dpop_nonce", "a fresh server nonce is required"), { name: "dpop-nonce", value: deps.nonces.current() }] });
    }
    nonceHeaders.push({ name: "dpop-nonce", value: deps.nonces.current() });
  }
  if (claims.ath !== accessTokenHash(authorization.token)) return proofRefusal(config, "dpop_proof_ath", "ath does not match the access token");
  if (verified.jkt !== jkt) return tokenRefusal(config, "dpop_key_mismatch", "proof key does not match the token binding");

  const ttlMs = (config.maxProofAgeSeconds + skew) * 1000;
  let first: boolean;
  try {
    first = await deps.replay.firstUse(`${jkt}:${createHash("sha256").update(claims.jti).digest("base64url")}`, ttlMs);
  } catch {
    return refuse(503, "replay_store_unavailable");
  }
  return first ? allow(nonceHeaders) : proofRefusal(config, "dpop_proof_replayed", "proof already used");
}
