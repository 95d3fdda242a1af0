import { generateServingCa, issueServingCertificate } from "../../operator/identity/serving-certificate.js";
import type { SecretObject } from "../../operator/resolve/objects.js";

/** A public certificate as a certificate authority would issue it: a leaf for `dnsNames`, its key, and the CA clients trust. */
export interface PublicCertificate {
  caPem: string;
  /** tls.crt: the leaf, then the CA (as cert-manager writes a chain). */
  chainPem: string;
  leafPem: string;
  keyPem: string;
}

/** A fresh CA and a leaf for `dnsNames`, made with node:crypto and @peculiar/x509 (no key is committed). */
export async function issuePublicCertificate(dnsNames: readonly string[], now = new Date()): Promise<PublicCertificate> {
  const ca = await generateServingCa("Bulwark test public CA", now);
  const leaf = await issueServingCertificate(ca, dnsNames, now);
  return { caPem: ca.caPem, chainPem: `${leaf.certPem.trimEnd()}\n${ca.caPem.trimEnd()}\n`, leafPem: leaf.certPem, keyPem: leaf.keyPem };
}

/** A kubernetes.io/tls Secret (cert-manager's format) holding `certificate`. */
export function tlsSecret(namespace: string, name: string, certificate: { chainPem: string; keyPem: string }, type = "kubernetes.io/tls"): SecretObject {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { namespace, name },
    type,
    data: { "tls.crt": Buffer.from(certificate.chainPem).toString("base64"), "tls.key": Buffer.from(certificate.keyPem).toString("base64") },
  };
}
