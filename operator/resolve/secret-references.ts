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
    const p = (policy ?? {}) as {
      metadata?: { namespace?: unknown };
      spec?: {
        authentication?: { jwt?: { providers?: unknown }; appAttestation?: { jwks?: { secretRef?: unknown } }; apiKeys?: { secretRef?: unknown } };
        tls?: { certificate?: { secretRef?: unknown } };
      };
    };
    const authentication = p.spec?.authentication;
    const providers = Array.isArray(authentication?.jwt?.providers) ? (authentication.jwt.providers as { jwks?: { secretRef?: unknown } }[]) : [];
    const named =
      providers.some((provider) => provider?.jwks?.secretRef !== undefined) ||
      authentication?.appAttestation?.jwks?.secretRef !== undefined ||
      authentication?.apiKeys?.secretRef !== undefined ||
      p.spec?.tls?.certificate?.secretRef !== undefined;
    if (named) out.add(typeof p.metadata?.namespace === "string" ? p.metadata.namespace : "default");
  }
  return out;
}
