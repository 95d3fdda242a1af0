import { createHash } from "node:crypto";
import { errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";
import type { AppAttestationIR, JwksIR } from "../../contract/ir.js";
import { refuse, type Decision } from "./decision.js";
import { JwksUnavailableError } from "./jwks-cache.js";
import type { ReplayStore } from "./replay-store.js";
import { MAX_CREDENTIAL_HEADER_BYTES } from "./request.js";

/** Asymmetric algorithms only: a public key is never accepted as an HMAC secret. */
export const ATTESTATION_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"];

export interface AttestationDeps {
  now: () => number;
  /** Key resolver for a key set (a JwksCache for remote keys, a local set for inline ones). */
  keys: (jwks: JwksIR) => JWTVerifyGetKey;
  clockSkewSeconds?: number;
  /** Remembers the jti of single-use tokens (the DPoP replay store, under its own key prefix). */
  replay: ReplayStore;
}

const DEFAULT_SKEW_SECONDS = 30;

/** The claim `name`: top-level, else (a dotted name) the path into nested objects. */
function claimAt(payload: JWTPayload, name: string): unknown {
  if (Object.hasOwn(payload, name)) return payload[name];
  let value: unknown = payload;
  for (const part of name.split(".")) {
    if (typeof value !== "object" || value === null || Array.isArray(value) || !Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

function claimHolds(value: unknown, accepted: readonly string[]): boolean {
  const matches = (v: unknown): boolean => (typeof v === "string" || typeof v === "number" || typeof v === "boolean") && accepted.includes(String(v));
  return Array.isArray(value) ? value.some(matches) : matches(value);
}

/** The verdicts the policy requires (requiredClaims): each claim has one of its values. */
function verdictRefusal(payload: JWTPayload, config: AppAttestationIR): Decision | undefined {
  for (const claim of config.requiredClaims ?? []) if (!claimHolds(claimAt(payload, claim.name), claim.values)) return refuse(401, "attestation_verdict");
  return undefined;
}

/**
 * Single-use tokens: the jti is remembered for as long as the token could be accepted (its
 * maximum age, the clock skew and a second for the boundary), keyed by issuer and jti.
 */
async function replayRefusal(payload: JWTPayload, config: AppAttestationIR, deps: AttestationDeps): Promise<Decision | undefined> {
  if (!config.singleUse) return undefined;
  const jti = payload.jti;
  if (typeof jti !== "string" || jti === "" || jti.length > 512) return refuse(401, "attestation_jti_missing");
  const skewSeconds = deps.clockSkewSeconds ?? DEFAULT_SKEW_SECONDS;
  const ttlMs = (config.maxTokenAgeSeconds + skewSeconds + 1) * 1000;
  const key = `attestation:${createHash("sha256").update(`${config.issuer}\u0000${jti}`).digest("base64url")}`;
  let first: boolean;
  try {
    first = await deps.replay.firstUse(key, ttlMs);
  } catch {
    return refuse(503, "replay_store_unavailable");
  }
  if (!first) return refuse(401, "attestation_replayed");
  // A token issued before the store's memory began (a restart, an emptied Redis) may have been used then.
  const iat = typeof payload.iat === "number" ? payload.iat : 0;
  return iat * 1000 < deps.replay.rememberedSince() + skewSeconds * 1000 ? refuse(401, "attestation_predates_replay_cache") : undefined;
}

/**
 * App attestation: the request carries an integrity token from the attestation issuer, for one
 * of our audiences, about one of the allowed app ids (`sub`), issued at most maxTokenAge ago,
 * with the verdicts the policy requires, and not seen before when tokens are single-use. A token
 * with a critical header parameter is refused (jose understands none of ours, RFC 7515 section 4.1.11).
 */
export async function checkAttestation(headers: Readonly<Record<string, string>>, config: AppAttestationIR | undefined, deps: AttestationDeps): Promise<Decision | undefined> {
  if (!config) return refuse(401, "attestation_not_configured");
  const token = headers[config.header];
  if (token === undefined || token === "") return refuse(401, "attestation_missing");
  if (token.length > MAX_CREDENTIAL_HEADER_BYTES) return refuse(401, "attestation_oversized");
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, deps.keys(config.jwks), {
      issuer: config.issuer,
      audience: config.audiences,
      algorithms: ATTESTATION_ALGORITHMS,
      maxTokenAge: config.maxTokenAgeSeconds,
      requiredClaims: ["iat", "sub"],
      clockTolerance: deps.clockSkewSeconds ?? DEFAULT_SKEW_SECONDS,
      currentDate: new Date(deps.now()),
    }));
  } catch (error) {
    if (error instanceof JwksUnavailableError) return refuse(503, "attestation_keys_unavailable");
    if (error instanceof errors.JOSEError || error instanceof TypeError || error instanceof SyntaxError) return refuse(401, "attestation_invalid");
    throw error;
  }
  if (typeof payload.sub !== "string" || !config.appIds.includes(payload.sub)) return refuse(401, "attestation_app_id");
  // Verdicts before the replay store: a token refused for its verdict does not spend its jti.
  return verdictRefusal(payload, config) ?? (await replayRefusal(payload, config, deps));
}
