import { createHash, X509Certificate } from "node:crypto";

/** Each certificate of a PEM bundle (or chain), in order. */
export function pemCertificates(bundle: string): X509Certificate[] {
  return (bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((block) => new X509Certificate(block));
}

/** The certificates of one or more PEM bundles, each once (compared by DER), in order of appearance. */
export function mergeTrustBundles(...bundles: readonly string[]): string {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const bundle of bundles) {
    for (const certificate of pemCertificates(bundle)) {
      const key = certificate.raw.toString("base64");
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(certificate.toString().trim());
    }
  }
  return out.length > 0 ? `${out.join("\n")}\n` : "";
}

/**
 * A short, stable name for each certificate of a PEM bundle (SHA-256 of its DER, 32 hex digits),
 * sorted and each once: what a replica tells the others about the roots its sidecars trust.
 */
export function rootFingerprints(bundle: string): string[] {
  const out = new Set<string>();
  for (const certificate of pemCertificates(bundle)) {
    out.add(createHash("sha256").update(certificate.raw).digest("hex").slice(0, 32));
  }
  return [...out].sort();
}
