/**
 * Serving certificates that Bulwark makes for itself at run time (the injector's webhook, the
 * controller's xDS endpoint): a self-signed CA kept with its key, and a leaf for the Service's DNS
 * names signed by it. Nothing is generated when the chart renders, so two renders are identical.
 * X.509 encoding is @peculiar/x509's; keys and checks are node:crypto's.
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { pem, serialNumber } from "./encoding.js";
import { createPrivateKey, webcrypto, X509Certificate } from "node:crypto";
import { isIP } from "node:net";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const subtle = webcrypto.subtle;
const KEY: webcrypto.EcKeyGenParams & webcrypto.EcdsaParams = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
const DAY = 24 * 3600_000;

/** The CA lives ten years; a leaf one year, renewed when less than a third of it is left. */
export const SERVING_CA_LIFETIME_MS = 3650 * DAY;
export const SERVING_LEAF_LIFETIME_MS = 365 * DAY;

export interface ServingMaterial {
  /** The CA certificate (PEM): what clients trust (a webhook's caBundle, a sidecar's xDS CA). */
  caPem: string;
  /** The CA's key (PEM, PKCS#8); absent for material made elsewhere (it is then replaced, not renewed, when due). */
  caKeyPem?: string;
  /** The serving certificate (PEM). */
  certPem: string;
  /** Its key (PEM, PKCS#8). */
  keyPem: string;
}

async function importKey(keyPem: string): Promise<webcrypto.CryptoKey> {
  const der = createPrivateKey(keyPem).export({ type: "pkcs8", format: "der" });
  return subtle.importKey("pkcs8", der, KEY, false, ["sign"]);
}

/** A new self-signed CA named `commonName`. */
export async function generateServingCa(commonName: string, now: Date): Promise<{ caPem: string; caKeyPem: string }> {
  const keys = await subtle.generateKey(KEY, true, ["sign", "verify"]);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: `CN=${commonName}`,
    notBefore: new Date(now.getTime() - 3600_000),
    notAfter: new Date(now.getTime() + SERVING_CA_LIFETIME_MS),
    keys,
    signingAlgorithm: KEY,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { caPem: certificate.toString("pem"), caKeyPem: pem("PRIVATE KEY", await subtle.exportKey("pkcs8", keys.privateKey)) };
}

/** A serving certificate for `dnsNames` (the first is its subject; an IP address becomes an IP SAN), signed by the CA. */
export async function issueServingCertificate(ca: { caPem: string; caKeyPem: string }, dnsNames: readonly string[], now: Date): Promise<{ certPem: string; keyPem: string }> {
  const issuer = new x509.X509Certificate(ca.caPem);
  const keys = await subtle.generateKey(KEY, true, ["sign", "verify"]);
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: `CN=${dnsNames[0] ?? "bulwark"}`,
    issuer: issuer.subject,
    notBefore: new Date(now.getTime() - 3600_000),
    notAfter: new Date(Math.min(now.getTime() + SERVING_LEAF_LIFETIME_MS, issuer.notAfter.getTime())),
    publicKey: keys.publicKey,
    signingKey: await importKey(ca.caKeyPem),
    signingAlgorithm: KEY,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(dnsNames.map((value) => ({ type: isIP(value) ? ("ip" as const) : ("dns" as const), value }))),
      await x509.AuthorityKeyIdentifierExtension.create(issuer),
    ],
  });
  return { certPem: leaf.toString("pem"), keyPem: pem("PRIVATE KEY", await subtle.exportKey("pkcs8", keys.privateKey)) };
}

/** A new CA and a serving certificate for `dnsNames`. */
export async function generateServingMaterial(commonName: string, dnsNames: readonly string[], now: Date): Promise<ServingMaterial> {
  const ca = await generateServingCa(commonName, now);
  return { ...ca, ...(await issueServingCertificate(ca, dnsNames, now)) };
}

/**
 * Why the material cannot serve `dnsNames` as it is at `now` (undefined when it can): unreadable,
 * not signed by its CA, a key that does not match, a missing name, or less than a third of its
 * lifetime left.
 */
export function servingMaterialProblem(material: ServingMaterial, dnsNames: readonly string[], now: Date): string | undefined {
  let leaf: X509Certificate;
  let ca: X509Certificate;
  try {
    leaf = new X509Certificate(material.certPem);
    ca = new X509Certificate(material.caPem);
    if (!leaf.checkPrivateKey(createPrivateKey(material.keyPem))) return "the key does not belong to the certificate";
  } catch {
    return "the certificate or key cannot be read";
  }
  if (!leaf.verify(ca.publicKey)) return "the certificate is not signed by the CA";
  const missing = dnsNames.filter((name) => (isIP(name) ? leaf.checkIP(name) : leaf.checkHost(name, { wildcards: false })) === undefined);
  if (missing.length > 0) return `the certificate does not name ${missing.join(", ")}`;
  const from = leaf.validFromDate.getTime();
  const to = Math.min(leaf.validToDate.getTime(), ca.validToDate.getTime());
  if (now.getTime() >= to - (to - from) / 3) return `the certificate expires ${new Date(to).toISOString()} (renewed once less than a third of its lifetime is left)`;
  return undefined;
}

/** When the serving certificate (or its CA, whichever is first) expires. */
export function servingNotAfter(material: ServingMaterial): Date {
  const leaf = new X509Certificate(material.certPem);
  const ca = new X509Certificate(material.caPem);
  return new Date(Math.min(leaf.validToDate.getTime(), ca.validToDate.getTime()));
}
