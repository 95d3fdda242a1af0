import { X509Certificate } from "node:crypto";

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
