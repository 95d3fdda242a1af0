import { errors, jwtVerify, type JWTVerifyGetKey } from "jose";
import type { AppAttestationIR, JwksIR } from "../ir/types.js";
import { refuse, type Decision } from "./decision.js";
import { JwksUnavailableError } from "./jwks-cache.js";
import { MAX_CREDENTIAL_HEADER_BYTES } from "./request.js";

/** Asymmetric algorithms only: a public key is never accepted as an HMAC secret. */
export const ATTESTATION_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];

export interface AttestationDeps {
  now: () => number;
  /** Key resolver for a key set (a JwksCache for remote keys, a local set for inline ones). */
  keys: (jwks: JwksIR) => JWTVerifyGetKey;
  clockSkewSeconds?: number;
}

/**
 * App attestation: the request carries an integrity token from the attestation issuer, for one
 * of our audiences, about one of the allowed app ids (`sub`), issued at most maxTokenAge ago.
 */
export async function checkAttestation(headers: Readonly<Record<string, string>>, config: AppAttestationIR | undefined, deps: AttestationDeps): Promise<Decision | undefined> {
  if (!config) return refuse(401, "attestation_not_configured");
  const token = headers[config.header];
  if (token === undefined || token === "") return refuse(401, "attestation_missing");
  if (token.length > MAX_CREDENTIAL_HEADER_BYTES) return refuse(401, "attestation_oversized");
  let sub: unknown;
  try {
    const { payload } = await jwtVerify(token, deps.keys(config.jwks), {
      issuer: config.issuer,
      audience: config.audiences,
      algorithms: ATTESTATION_ALGORITHMS,
      maxTokenAge: config.maxTokenAgeSeconds,
      requiredClaims: ["iat", "sub"],
      clockTolerance: deps.clockSkewSeconds ?? 30,
      currentDate: new Date(deps.now()),
    });
    sub = payload.sub;
  } catch (error) {
    if (error instanceof JwksUnavailableError) return refuse(503, "attestation_keys_unavailable");
    if (error instanceof errors.JOSEError || error instanceof TypeError || error instanceof SyntaxError) return refuse(401, "attestation_invalid");
    throw error;
  }
  return typeof sub === "string" && config.appIds.includes(sub) ? undefined : refuse(401, "attestation_app_id");
}
