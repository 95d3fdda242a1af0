import { durationSeconds } from "../api/v1alpha1/common.js";
import type { PolicySpec } from "../api/v1alpha1/policy.js";
import { UNUSABLE_JWKS } from "../resolve/jwks.js";
import type { AppAttestationIR, JwksIR, JwtProviderIR, SenderConstraintIR } from "../../contract/ir.js";
import { errorMessage } from "../../common/errors.js";
import { compareStrings } from "../../common/order.js";

type Authentication = NonNullable<PolicySpec["authentication"]>;
type JwksSpec = NonNullable<Authentication["appAttestation"]>["jwks"];

/** The JWKS of a provider: remote (with the cluster that reaches its host) or inline from a Secret. */
export function buildJwks(jwks: JwksSpec, inline: string | undefined): JwksIR {
  if (jwks.remote) {
    let url: URL;
    try {
      url = new URL(jwks.remote.uri);
    } catch (error) {
      throw new Error(`jwks.remote.uri ${JSON.stringify(jwks.remote.uri)} is not a URL that can be fetched (${errorMessage(error)})`);
    }
    const tls = url.protocol === "https:";
    const port = url.port ? Number(url.port) : tls ? 443 : 80;
    return {
      kind: "remote",
      uri: jwks.remote.uri,
      cacheSeconds: durationSeconds(jwks.remote.cacheDuration),
      cluster: { name: `jwks/${url.hostname}/${port}`, host: url.hostname, port, tls },
    };
  }
  return { kind: "inline", jwks: inline ?? UNUSABLE_JWKS };
}

/**
 * The proof algorithms accepted: the policy's, with EdDSA also under its fully-specified name
 * Ed25519 (RFC 9864), which the npm clients `dpop` and `oauth4webapi` write for the same keys.
 */
function proofAlgorithms(declared: readonly string[]): string[] {
  const algorithms = new Set(declared);
  if (algorithms.has("EdDSA")) algorithms.add("Ed25519");
  return [...algorithms].sort(compareStrings);
}

export function buildSenderConstraint(authentication: Authentication | undefined): SenderConstraintIR | undefined {
  const constraint = authentication?.jwt?.senderConstraint;
  if (!constraint || (!constraint.dpop && !constraint.mtls)) return undefined;
  return {
    ...(constraint.dpop
      ? {
          dpop: {
            required: constraint.dpop.required,
            maxProofAgeSeconds: durationSeconds(constraint.dpop.maxProofAge),
            algorithms: proofAlgorithms(constraint.dpop.algorithms),
            requireNonce: constraint.dpop.requireNonce,
          },
        }
      : {}),
    ...(constraint.mtls ? { mtls: { required: constraint.mtls.required } } : {}),
  };
}

export function buildJwtProviders(options: { policy: string; authentication: Authentication | undefined; inlineJwks: Record<string, string> }): JwtProviderIR[] {
  const jwt = options.authentication?.jwt;
  if (!jwt) return [];
  const dpop = jwt.senderConstraint?.dpop;
  const schemes: JwtProviderIR["schemes"] = dpop ? (dpop.required ? ["DPoP"] : ["Bearer", "DPoP"]) : ["Bearer"];
  return jwt.providers
    .map((p) => ({
      name: `${options.policy}/jwt/${p.name}`,
      issuer: p.issuer,
      audiences: [...p.audiences].sort(compareStrings),
      jwks: buildJwks(p.jwks, options.inlineJwks[`jwt/${p.name}`]),
      ...(p.maxTokenAge ? { maxLifetimeSeconds: durationSeconds(p.maxTokenAge) } : {}),
      clockSkewSeconds: durationSeconds(p.clockSkew),
      claimsToHeaders: (p.claimsToHeaders ?? []).map((c) => ({ claim: c.claim, header: c.header.toLowerCase() })),
      schemes,
    }))
    .sort((a, b) => compareStrings(a.name, b.name));
}

export function buildAppAttestation(authentication: Authentication | undefined, inlineJwks: Record<string, string>): AppAttestationIR | undefined {
  const attestation = authentication?.appAttestation;
  if (!attestation) return undefined;
  return {
    header: attestation.header.toLowerCase(),
    issuer: attestation.issuer,
    audiences: [...attestation.audiences].sort(compareStrings),
    appIds: [...attestation.appIds].sort(compareStrings),
    jwks: buildJwks(attestation.jwks, inlineJwks.appAttestation),
    maxTokenAgeSeconds: durationSeconds(attestation.maxTokenAge),
    ...(attestation.singleUse ? { singleUse: true as const } : {}),
    ...(attestation.requiredClaims && Object.keys(attestation.requiredClaims).length > 0
      ? {
          requiredClaims: Object.entries(attestation.requiredClaims)
            .sort(([a], [b]) => compareStrings(a, b))
            .map(([name, values]) => ({ name, values: [...values].sort(compareStrings) })),
        }
      : {}),
  };
}
