/** A policy spec as stored: only the fields that name Secrets. */
interface StoredSpec {
  authentication?: { jwt?: { providers?: unknown }; appAttestation?: { jwks?: { secretRef?: unknown } }; apiKeys?: { secretRef?: unknown } };
  tls?: { certificate?: { secretRef?: unknown } };
}

/** Whether a policy's spec, as stored, names a Secret anywhere. */
function namesSecret(spec: StoredSpec | undefined): boolean {
  const authentication = spec?.authentication;
  const providers = Array.isArray(authentication?.jwt?.providers) ? (authentication.jwt.providers as { jwks?: { secretRef?: unknown } }[]) : [];
  return (
    providers.some((provider) => provider?.jwks?.secretRef !== undefined) ||
    authentication?.appAttestation?.jwks?.secretRef !== undefined ||
    authentication?.apiKeys?.secretRef !== undefined ||
    spec?.tls?.certificate?.secretRef !== undefined
  );
}

/**
 * The namespaces whose Secrets translation may read: those of policies that name a Secret
 * (a JWKS in `authentication.jwt.providers[].jwks.secretRef` or
 * `authentication.appAttestation.jwks.secretRef`, a public certificate in `tls.certificate.secretRef`,
 * API keys in `authentication.apiKeys.secretRef`;
 * a policy reads Secrets of its own namespace only).
 * Read from the objects as stored, before validation: a policy that names a Secret in a shape the
 * schema refuses still counts, so nothing a valid reading would need is ever left unwatched.
 */
export function secretNamespaces(policies: readonly unknown[]): Set<string> {
  const out = new Set<string>();
  for (const policy of policies) {
    const p = (policy ?? {}) as { metadata?: { namespace?: unknown }; spec?: StoredSpec };
    if (namesSecret(p.spec)) out.add(typeof p.metadata?.namespace === "string" ? p.metadata.namespace : "default");
  }
  return out;
}
