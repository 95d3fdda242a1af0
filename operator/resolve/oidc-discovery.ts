import { ResolvedRefsReason } from "../api/v1alpha1/conditions.js";
import { durationSeconds, jwksUriPattern } from "../api/v1alpha1/common.js";
import type { DiscoveredIssuer } from "./objects.js";

/** Where OpenID Connect Discovery 1.0 (section 4) puts an issuer's configuration. */
export function discoveryUrl(issuer: string): string {
  return `${issuer.replace(/\/+$/, "")}/.well-known/openid-configuration`;
}

/**
 * Checks a discovery document fetched for `issuer` and returns its `jwks_uri`. The document's
 * `issuer` must be exactly the configured one (OpenID Connect Discovery 1.0, section 4.3):
 * otherwise whoever serves the document could name keys of another issuer. The `jwks_uri` must
 * be a URL the sidecar can fetch, and https unless the issuer itself is plain http (a test or
 * in-cluster issuer, already reported in the Warnings condition).
 */
export function checkDiscoveryDocument(issuer: string, document: unknown): DiscoveredIssuer {
  if (typeof document !== "object" || document === null || Array.isArray(document)) return { error: "the discovery document is not a JSON object" };
  const { issuer: named, jwks_uri: jwksUri } = document as { issuer?: unknown; jwks_uri?: unknown };
  if (named !== issuer) {
    return {
      // Cut, as jwks_uri below: the document is not ours, and the message lands in the policy's status.
      error: `the discovery document names the issuer ${String(JSON.stringify(named)).slice(0, 200)}, not ${JSON.stringify(issuer)}; it is refused (an issuer must publish its own configuration)`,
    };
  }
  if (typeof jwksUri !== "string") return { error: "the discovery document has no jwks_uri" };
  if (jwksUri.length > 2048 || !jwksUriPattern.test(jwksUri))
    return { error: `the discovery document's jwks_uri ${JSON.stringify(jwksUri.slice(0, 200))} is not a URL the sidecar can fetch` };
  if (issuer.startsWith("https://") && !jwksUri.startsWith("https://")) {
    return { error: `the discovery document's jwks_uri ${jwksUri} is not https while the issuer is: keys fetched without TLS can be replaced on the way` };
  }
  return { jwksUri };
}

export type JwksFromDiscovery = { ok: true; uri: string } | { ok: false; reason: string; message: string };

/** The jwks_uri discovered for a provider's issuer, or why its tokens are refused (pure: the fetch happened at the edge). */
export function jwksFromDiscovery(options: { discovery: Readonly<Record<string, DiscoveredIssuer>> | undefined; issuer: string; usedBy: string }): JwksFromDiscovery {
  const { issuer, usedBy } = options;
  const found = options.discovery?.[issuer];
  if (!found) {
    return {
      ok: false,
      reason: ResolvedRefsReason.DiscoveryPending,
      message: `the OpenID configuration of ${issuer} (JWKS of ${usedBy}) has not been fetched yet; its tokens are refused until it is`,
    };
  }
  if ("error" in found) {
    return {
      ok: false,
      reason: ResolvedRefsReason.DiscoveryFailed,
      message: `OpenID Connect Discovery of ${issuer} (JWKS of ${usedBy}) failed: ${found.error}; its tokens are refused until a fetch succeeds`,
    };
  }
  // The edge checked it; checked again so a bad input fails this provider, not the translation.
  const checked = checkDiscoveryDocument(issuer, { issuer, jwks_uri: found.jwksUri });
  if ("error" in checked) return { ok: false, reason: ResolvedRefsReason.DiscoveryFailed, message: `OpenID Connect Discovery of ${issuer} (JWKS of ${usedBy}): ${checked.error}` };
  return { ok: true, uri: checked.jwksUri };
}

/** Issuers whose discovery documents a set of policies needs, each with its shortest refresh interval (seconds). Reads raw objects leniently: an invalid policy contributes nothing wrong, only perhaps an extra fetch. */
export function discoveryWants(policies: readonly unknown[]): Map<string, number> {
  const wants = new Map<string, number>();
  const add = (source: unknown): void => {
    const { issuer, jwks } = (source ?? {}) as { issuer?: unknown; jwks?: { oidcDiscovery?: { cacheDuration?: unknown } } };
    const discovery = jwks?.oidcDiscovery;
    if (typeof issuer !== "string" || discovery === undefined || discovery === null) return;
    const declared = typeof discovery.cacheDuration === "string" ? durationSeconds(discovery.cacheDuration) : Number.NaN;
    // An invalid duration (the policy is refused anyway) gets the default interval.
    const seconds = Number.isFinite(declared) ? Math.min(Math.max(declared, 30), 86_400) : 300;
    wants.set(issuer, Math.min(wants.get(issuer) ?? Infinity, seconds));
  };
  for (const policy of policies) {
    const authentication = (policy as { spec?: { authentication?: { jwt?: { providers?: unknown }; appAttestation?: unknown } } } | null)?.spec?.authentication;
    const providers = authentication?.jwt?.providers;
    if (Array.isArray(providers)) for (const p of providers) add(p);
    add(authentication?.appAttestation);
  }
  return wants;
}
