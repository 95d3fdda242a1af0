import { durationSeconds } from "../api/v1alpha1/common.js";
import type { PolicySpec } from "../api/v1alpha1/policy.js";
import { UNUSABLE_JWKS } from "../resolve/jwks.js";
import type { AppAttestationIR, JwksIR, JwtProviderIR, SenderConstraintIR } from "../../contract/ir.js";
import { errorMessage } from "../../common/errors.js";
import { compareStrings } from "../../common/order.js";

type Authentication = NonNullable<PolicySpec["authentication"]>;
type JwksSpec = NonNullable<Authentication["appAttestation"]>["jwks"];

function remoteJwks(uri: string, cacheDuration: string, field: string): JwksIR {
  let url: URL;
  try {
    url = new URL(uri);
  } catch (error) {
    throw new Error(`${field} ${JSON.stringify(uri)} is not a URL that can be fetched (${errorMessage(error)})`);
  }
  const tls = url.protocol === "https:";
  const port = url.port ? Number(url.port) : tls ? 443 : 80;
  return {
    kind: "remote",
    uri,
    cacheSeconds: durationSeconds(cacheDuration),
    cluster: { name: `jwks/${url.hostname}/${port}`, host: url.hostname, port, tls },
  };
}

/**
 * The JWKS of a provider: remote (with the cluster that reaches its host), remote at the
 * jwks_uri OpenID Connect Discovery found, or inline from a Secret. A discovery that has not
 * succeeded, like a broken Secret, leaves a key set nobody can sign for.
 */
export function buildJwks(jwks: JwksSpec, resolved: { inline: string | undefined; discovered: string | undefined }): JwksIR {
  if (jwks.remote) return remoteJwks(jwks.remote.uri, jwks.remote.cacheDuration, "jwks.remote.uri");
  if (jwks.oidcDiscovery && resolved.discovered !== undefined) return remoteJwks(resolved.discovered, jwks.oidcDiscovery.cacheDuration, "the discovered jwks_uri");
  return { kind: "inline", jwks: resolved.inline ?? UNUSABLE_JWKS };
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

/** Keys resolved at translation time, per provider id (`jwt/<name>`, `appAttestation`). */
export interface ResolvedJwks {
  inlineJwks: Record<string, string>;
  discoveredJwksUris?: Record<string, string>;
}

function resolvedFor(resolved: ResolvedJwks, id: string): { inline: string | undefined; discovered: string | undefined } {
  return { inline: resolved.inlineJwks[id], discovered: resolved.discoveredJwksUris?.[id] };
}

export function buildJwtProviders(options: { policy: string; authentication: Authentication | undefined; resolved: ResolvedJwks }): JwtProviderIR[] {
  const jwt = options.authentication?.jwt;
  if (!jwt) return [];
  const dpop = jwt.senderConstraint?.dpop;
  const schemes: JwtProviderIR["schemes"] = dpop ? (dpop.required ? ["DPoP"] : ["Bearer", "DPoP"]) : ["Bearer"];
  return jwt.providers
    .map((p) => ({
      name: `${options.policy}/jwt/${p.name}`,
      issuer: p.issuer,
      audiences: [...p.audiences].sort(compareStrings),
      jwks: buildJwks(p.jwks, resolvedFor(options.resolved, `jwt/${p.name}`)),
      ...(p.maxTokenAge ? { maxLifetimeSeconds: durationSeconds(p.maxTokenAge) } : {}),
      clockSkewSeconds: durationSeconds(p.clockSkew),
      claimsToHeaders: (p.claimsToHeaders ?? []).map((c) => ({ claim: c.claim, header: c.header.toLowerCase() })),
      schemes,
    }))
    .sort((a, b) => compareStrings(a.name, b.name));
}

export function buildAppAttestation(authentication: Authentication | undefined, resolved: ResolvedJwks): AppAttestationIR | undefined {
  const attestation = authentication?.appAttestation;
  if (!attestation) return undefined;
  return {
    header: attestation.header.toLowerCase(),
    issuer: attestation.issuer,
    audiences: [...attestation.audiences].sort(compareStrings),
    appIds: [...attestation.appIds].sort(compareStrings),
    jwks: buildJwks(attestation.jwks, resolvedFor(resolved, "appAttestation")),
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
