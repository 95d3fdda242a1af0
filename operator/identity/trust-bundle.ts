import { createHash, X509Certificate } from "node:crypto";

/** The certificates of one or more PEM bundles, each once (compared by DER), in order of appearance. */
export function mergeTrustBundles(...bundles: readonly string[]): string {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const bundle of bundles) {
    for (const block of bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []) {
      const certificate = new X509Certificate(block);
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
  for (const block of bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []) {
    out.add(createHash("sha256").update(new X509Certificate(block).raw).digest("hex").slice(0, 32));
  }
  return [...out].sort();
}
