import { KeyObject, constants, hash, verify as verifySignature, type VerifyKeyObjectInput } from "node:crypto";
import { base64url, calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, importJWK, type JWK, type ProtectedHeaderParameters } from "jose";
import type { SenderConstraintIR } from "../../contract/ir.js";
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
 * A map that keeps at most `capacity` entries, forgetting first those not used for longest (in
 * two generations, not in exact order: a hit on a recent entry is a single lookup, with no
 * reordering). Entries go into the recent generation; when it holds half the capacity, it becomes
 * the old one and the old one is dropped. A hit in the old generation moves the entry back into
 * the recent one. So an entry used within the last capacity/2 insertions is always kept.
 */
export class BoundedCache<K, V> {
  private recent = new Map<K, V>();
  private older = new Map<K, V>();
  private readonly half: number;

  constructor(readonly capacity: number) {
    if (!(capacity >= 2)) throw new RangeError("a BoundedCache holds at least 2 entries");
    this.half = Math.floor(capacity / 2);
  }

  get(key: K): V | undefined {
    const value = this.recent.get(key);
    if (value !== undefined) return value;
    const old = this.older.get(key);
    if (old !== undefined) {
      this.older.delete(key);
      this.insert(key, old);
    }
    return old;
  }

  set(key: K, value: V): void {
    this.older.delete(key);
    if (this.recent.has(key)) this.recent.set(key, value);
    else this.insert(key, value);
  }

  delete(key: K): void {
    this.recent.delete(key);
    this.older.delete(key);
  }

  get size(): number {
    return this.recent.size + this.older.size;
  }

  private insert(key: K, value: V): void {
    if (this.recent.size >= this.half) {
      this.older = this.recent;
      this.recent = new Map();
    }
    this.recent.set(key, value);
  }
}

/** How node:crypto verifies each JWS algorithm a proof may use (RFC 7518 section 3, RFC 8037). */
const SIGNATURE_SCHEMES: Readonly<Record<string, { digest: string | null; options: Omit<VerifyKeyObjectInput, "key">; minRsaBits?: number }>> = {
  ES256: { digest: "sha256", options: { dsaEncoding: "ieee-p1363" } },
  ES384: { digest: "sha384", options: { dsaEncoding: "ieee-p1363" } },
  ES512: { digest: "sha512", options: { dsaEncoding: "ieee-p1363" } },
  EdDSA: { digest: null, options: {} },
  Ed25519: { digest: null, options: {} },
  RS256: { digest: "sha256", options: { padding: constants.RSA_PKCS1_PADDING }, minRsaBits: 2048 },
  RS384: { digest: "sha384", options: { padding: constants.RSA_PKCS1_PADDING }, minRsaBits: 2048 },
  RS512: { digest: "sha512", options: { padding: constants.RSA_PKCS1_PADDING }, minRsaBits: 2048 },
  PS256: { digest: "sha256", options: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, minRsaBits: 2048 },
  PS384: { digest: "sha384", options: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 48 }, minRsaBits: 2048 },
  PS512: { digest: "sha512", options: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 64 }, minRsaBits: 2048 },
};

/** A proof's public key as node:crypto verifies with it, and its thumbprint. */
interface ProofKey {
  key: VerifyKeyObjectInput;
  digest: string | null;
  jkt: string;
}

/** A proof's protected header, with the public key it embeds imported once (jose) and its thumbprint. */
interface ProofHeader {
  header: ProtectedHeaderParameters;
  key?: Promise<ProofKey>;
  /** The key once imported: later proofs with this header are verified without waiting on the promise. */
  imported?: ProofKey;
}

/**
 * Proof headers by their encoded form: an app signs every proof with the same key and header, so
 * the header is decoded and its key imported and thumbprinted once per client, and each proof
 * costs one signature verification (node:crypto, synchronous, on the imported KeyObject). Bounded;
 * the least recently used go first. A header that fails to import is not kept.
 */
const proofHeaders = new BoundedCache<string, ProofHeader>(10_000);

/**
 * Longest string kept as a cache key (an encoded header, an htu, a token): the caches hold at most
 * a few tens of MB whatever clients send; longer values are simply computed every time.
 */
const MAX_CACHED_KEY_CHARS = 2048;

async function importProofKey(jwk: JWK, alg: string): Promise<ProofKey> {
  const scheme = SIGNATURE_SCHEMES[alg];
  if (!scheme) throw new Error(`no signature scheme for ${alg}`);
  // jose checks that the key suits the algorithm (key type, curve) as it imports it.
  const imported = await importJWK(jwk, alg);
  if (imported instanceof Uint8Array) throw new Error("the proof key must be an asymmetric public key");
  // What WebCrypto would enforce on every verification: the key's own key_ops must allow it.
  if (!imported.usages.includes("verify")) throw new Error("the proof key may not verify");
  const key = KeyObject.from(imported);
  if (key.type !== "public") throw new Error("the proof key must be a public key");
  if (scheme.minRsaBits !== undefined && (key.asymmetricKeyDetails?.modulusLength ?? 0) < scheme.minRsaBits)
    throw new Error(`${alg} keys must be at least ${scheme.minRsaBits} bits`);
  return { key: { key, ...scheme.options }, digest: scheme.digest, jkt: await calculateJwkThumbprint(jwk, "sha256") };
}

/** Decoded and normalised htu values by their raw form (requests of one route repeat the same few). */
const normalisedHtus = new BoundedCache<string, string | null>(4096);

const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];
export const DEFAULT_SKEW_SECONDS = 5;

/** base64url SHA-256 of the access token (the proof's `ath`). */
export function accessTokenHash(token: string): string {
  // One-shot (no Hash object); the token is ASCII (parseAuthorization), so UTF-8 is the same bytes.
  return hash("sha256", token, "base64url");
}

/** `ath` by access token: a client presents the same token with many proofs. */
const tokenHashes = new BoundedCache<string, string>(2048);

function cachedAccessTokenHash(token: string): string {
  let hash = tokenHashes.get(token);
  if (hash === undefined) {
    hash = accessTokenHash(token);
    if (token.length <= 2 * MAX_CACHED_KEY_CHARS) tokenHashes.set(token, hash);
  }
  return hash;
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
  const cached = normalisedHtus.get(uri);
  if (cached !== undefined) return cached ?? undefined;
  const normalised = parseHtu(uri);
  if (uri.length <= MAX_CACHED_KEY_CHARS) normalisedHtus.set(uri, normalised ?? null);
  return normalised;
}

function parseHtu(uri: string): string | undefined {
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

/**
 * The URI of the request as the client addressed it, normalised like `htu`: the scheme Envoy saw,
 * the Host (:authority) the client sent, the path.
 *
 * The authority is the client's Host, not a list of the workload's own hostnames: a policy names
 * a Service, and mobile clients reach it through public hostnames served in front of the cluster
 * (load balancers, ingress) that Bulwark does not see, so binding to the Service's DNS names would
 * refuse every proof from the field, and the API has no field for the public hostnames yet. What
 * the Host check gives: a proof made for host X passes only on a request that says Host X, with
 * the same method and path, carrying the access token the proof's `ath` names (accepted here:
 * issuer, audience), and a `jti` this authz's replay store has not seen. A proof captured from
 * another host is therefore replayable here only if that host accepts the same access tokens and
 * keeps a replay store of its own (it is not a workload of this installation, whose authz
 * replicas share one store). Tested through a real Envoy (envoy-authz.test.ts: a proof for
 * another host).
 */
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

/** A compact JWS: three base64url parts, the last two possibly empty (jose decodes them; only the charset is checked here). */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/;

/** The protected header, decoded by jose, or from the cache when this exact header was seen before. */
function proofHeader(encodedHeader: string, proof: string): ProofHeader | undefined {
  const cached = proofHeaders.get(encodedHeader);
  if (cached) return cached;
  try {
    return { header: decodeProtectedHeader(proof) };
  } catch {
    return undefined;
  }
}

/** exp and nbf, when a proof carries them, hold as for any JWT (RFC 7519 section 4.1.4 and 4.1.5). */
function datesRefusal(payload: Record<string, unknown>, config: DpopConfig, nowSeconds: number): Decision | undefined {
  const { exp, nbf } = payload;
  if (exp !== undefined && (typeof exp !== "number" || !Number.isFinite(exp))) return proofRefusal(config, "dpop_proof_claims", "malformed claims");
  if (nbf !== undefined && (typeof nbf !== "number" || !Number.isFinite(nbf))) return proofRefusal(config, "dpop_proof_claims", "malformed claims");
  if (typeof nbf === "number" && nbf > nowSeconds) return proofRefusal(config, "dpop_proof_claims", "malformed claims");
  if (typeof exp === "number" && exp <= nowSeconds) return proofRefusal(config, "dpop_proof_iat", "proof has expired");
  return undefined;
}

interface VerifiedProof {
  payload: Record<string, unknown>;
  jkt: string;
}

/**
 * Verifies the proof's signature with the public key it embeds, after checking the header. jose
 * decodes the header, the payload and the signature and imports the key; node:crypto verifies the
 * signature on the imported key, without a round trip through WebCrypto's thread pool. Synchronous
 * when the header's key was imported before (the usual case: a client signs with one key); a
 * promise only while a new key is being imported.
 */
function verifyProof(proof: string, config: DpopConfig, now: number): VerifiedProof | Decision | Promise<VerifiedProof | Decision> {
  if (!COMPACT_JWS.test(proof)) return proofRefusal(config, "dpop_proof_malformed", "not a JWS");
  const encodedHeader = proof.slice(0, proof.indexOf("."));
  const entry = proofHeader(encodedHeader, proof);
  if (!entry) return proofRefusal(config, "dpop_proof_malformed", "not a JWS");
  const { header } = entry;
  if (header.typ !== "dpop+jwt") return proofRefusal(config, "dpop_proof_typ", "typ must be dpop+jwt");
  if (typeof header.alg !== "string" || !config.algorithms.includes(header.alg)) return proofRefusal(config, "dpop_proof_alg", "unsupported algorithm");
  // No JWS extension is understood here (RFC 7515 section 4.1.11).
  if (header.crit !== undefined) return proofRefusal(config, "dpop_proof_malformed", "unsupported critical header");
  const jwk = header.jwk as Record<string, unknown> | undefined;
  if (typeof jwk !== "object" || jwk === null || Array.isArray(jwk)) return proofRefusal(config, "dpop_proof_malformed", "no jwk header");
  if (PRIVATE_MEMBERS.some((m) => m in jwk)) return proofRefusal(config, "dpop_proof_private_key", "jwk must be a public key");

  if (entry.imported) return verifySignedProof(proof, entry.imported, config, now);
  if (!entry.key) {
    const key = importProofKey(jwk, header.alg);
    entry.key = key;
    key.then(
      (imported) => {
        entry.imported = imported;
      },
      () => proofHeaders.delete(encodedHeader),
    );
    if (encodedHeader.length <= MAX_CACHED_KEY_CHARS) proofHeaders.set(encodedHeader, entry);
  }
  return entry.key.then(
    (key) => verifySignedProof(proof, key, config, now),
    () => proofRefusal(config, "dpop_proof_malformed", "proof cannot be verified"),
  );
}

/** The signature (node:crypto, on the imported key), then the payload (jose) and its dates. */
function verifySignedProof(proof: string, key: ProofKey, config: DpopConfig, now: number): VerifiedProof | Decision {
  const lastDot = proof.lastIndexOf(".");
  let signature: Uint8Array;
  try {
    signature = base64url.decode(proof.slice(lastDot + 1));
  } catch {
    return proofRefusal(config, "dpop_proof_malformed", "not a JWS");
  }
  let valid: boolean;
  try {
    valid = verifySignature(key.digest, Buffer.from(proof.slice(0, lastDot), "latin1"), key.key, signature);
  } catch {
    valid = false;
  }
  if (!valid) return proofRefusal(config, "dpop_proof_signature", "signature does not verify");

  let payload: Record<string, unknown>;
  try {
    payload = decodeJwt(proof);
  } catch {
    return proofRefusal(config, "dpop_proof_malformed", "proof cannot be verified");
  }
  return datesRefusal(payload, config, now / 1000) ?? { payload, jkt: key.jkt };
}

/** The server nonce (when required, or sent anyway): a refusal with a fresh one, or the header that hands the next one out. */
function nonceOutcome(claims: ProofClaims, config: DpopConfig, deps: DpopDeps): Header[] | Decision {
  if (!config.requireNonce && claims.nonce === undefined) return [];
  if (typeof claims.nonce !== "string" || !deps.nonces.isValid(claims.nonce)) {
    return refuse(401, "dpop_nonce_required", {
      headers: [challenge(config, "use_dpop_nonce", "a fresh server nonce is required"), { name: "dpop-nonce", value: deps.nonces.current() }],
    });
  }
  return [{ name: "dpop-nonce", value: deps.nonces.current() }];
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
  const pending = verifyProof(proof, config, now);
  const verified = pending instanceof Promise ? await pending : pending;
  if ("allowed" in verified) return verified;
  const claims = proofClaims(verified.payload);
  if (!claims) return proofRefusal(config, "dpop_proof_claims", "jti, htm, htu and iat are required");
  if (claims.htm !== request.method) return proofRefusal(config, "dpop_proof_htm", "htm does not match the method");
  const expectedHtu = requestHtu(request);
  if (expectedHtu === undefined || normaliseHtu(claims.htu) !== expectedHtu) return proofRefusal(config, "dpop_proof_htu", "htu does not match the URI");
  const nowSeconds = now / 1000;
  const skew = deps.clockSkewSeconds ?? DEFAULT_SKEW_SECONDS;
  if (nowSeconds - claims.iat > config.maxProofAgeSeconds || claims.iat - nowSeconds > skew) return proofRefusal(config, "dpop_proof_iat", "proof is stale or from the future");

  const nonceHeaders = nonceOutcome(claims, config, deps);
  if (!Array.isArray(nonceHeaders)) return nonceHeaders;
  if (claims.ath !== cachedAccessTokenHash(authorization.token)) return proofRefusal(config, "dpop_proof_ath", "ath does not match the access token");
  if (verified.jkt !== jkt) return tokenRefusal(config, "dpop_key_mismatch", "proof key does not match the token binding");

  // A proof is accepted while now - iat <= maxAge, with iat up to skew ahead of now: its jti is
  // remembered for longer than it can be accepted (a second more, for the boundary millisecond).
  const ttlMs = (config.maxProofAgeSeconds + skew + 1) * 1000;
  let first: boolean;
  try {
    first = await deps.replay.firstUse(`${jkt}:${hash("sha256", claims.jti, "base64url")}`, ttlMs);
  } catch {
    return refuse(503, "replay_store_unavailable");
  }
  if (!first) return proofRefusal(config, "dpop_proof_replayed", "proof already used");
  // A proof is accepted from iat - skew on: one issued before the store's memory began + skew may
  // have been used while the store was away (a restart, an emptied Redis) and is refused.
  if (claims.iat * 1000 < deps.replay.rememberedSince() + skew * 1000)
    return proofRefusal(config, "dpop_proof_predates_replay_cache", "proof issued before the replay cache restarted; retry with a new proof");
  return allow(nonceHeaders);
}
