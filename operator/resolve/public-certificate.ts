import { X509Certificate, createPrivateKey, type KeyObject } from "node:crypto";
import { ResolvedRefsReason } from "../api/v1alpha1/conditions.js";
import { namespaceOf, type SecretObject } from "./objects.js";

/** The PEM of a public certificate, as the sidecar gets it over SDS. */
export interface PublicCertificatePem {
  certificateChain: string;
  privateKey: string;
}

export type PublicCertificateFromSecret = { ok: true; pem: PublicCertificatePem } | { ok: false; reason: string; message: string };

/** The SDS secret name of a policy's public certificate: it names where it comes from. */
export function publicCertificateSdsName(namespace: string, secret: string): string {
  return `public-cert/${namespace}/${secret}`;
}

const TLS_SECRET_TYPE = "kubernetes.io/tls";
const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;
/** Curves Envoy serves ECDSA certificates with. */
const ENVOY_CURVES = new Set(["prime256v1", "secp384r1"]);

function secretValue(secret: SecretObject, key: string): string | undefined {
  const fromString = secret.stringData?.[key];
  if (fromString !== undefined) return fromString;
  const encoded = secret.data?.[key];
  return encoded === undefined ? undefined : Buffer.from(encoded, "base64").toString("utf8");
}

/** Why Envoy could not serve with this key; undefined when it can. */
function keyProblem(key: KeyObject): string | undefined {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === "rsa") return (details.modulusLength ?? 0) >= 2048 ? undefined : "is an RSA key shorter than 2048 bits";
  if (key.asymmetricKeyType === "ec") return ENVOY_CURVES.has(details.namedCurve ?? "") ? undefined : `is an EC key on curve ${details.namedCurve ?? "unknown"}`;
  return `is a key of type ${key.asymmetricKeyType ?? "unknown"}`;
}

/** Every certificate of the chain, parsed (the first is the one served); a reason when one does not parse. */
function parseChain(pem: string): X509Certificate[] | string {
  const blocks = pem.match(CERTIFICATE_BLOCK) ?? [];
  if (blocks.length === 0) return "holds no PEM certificate";
  // OpenSSL (Envoy) reads PEM line by line: an END line glued to the next BEGIN makes the chain unreadable.
  if (/-----END CERTIFICATE-----(?!\r?\n|$)/.test(pem)) return "has a certificate whose END line does not end the line (certificates glued together without a line break)";
  const chain: X509Certificate[] = [];
  for (const [index, block] of blocks.entries()) {
    try {
      chain.push(new X509Certificate(block));
    } catch (error) {
      return `has a certificate that does not parse (#${index + 1}: ${error instanceof Error ? error.message : "unreadable"})`;
    }
  }
  return chain;
}

/**
 * Reads and checks a public certificate from a kubernetes.io/tls Secret of the policy's
 * namespace (tls.crt: the chain, leaf first; tls.key: its private key), with node:crypto: every
 * certificate parses, the key parses, is one Envoy serves with, and belongs to the leaf.
 */
export function publicCertificateFromSecret(options: { secrets: readonly SecretObject[]; namespace: string; name: string }): PublicCertificateFromSecret {
  const { secrets, namespace, name } = options;
  const where = `Secret ${namespace}/${name} (the public certificate of spec.tls.certificate)`;
  const refused = "the sidecar refuses every connection until it is fixed";
  const secret = secrets.find((s) => s.metadata.name === name && namespaceOf(s.metadata) === namespace);
  if (!secret) return { ok: false, reason: ResolvedRefsReason.SecretNotFound, message: `${where} not found; ${refused}` };
  let checked = checkedSecrets.get(secret);
  if (!checked) {
    checked = checkSecret(secret, where, refused);
    checkedSecrets.set(secret, checked);
  }
  return checked;
}

/**
 * Checks by Secret object: the watch cache hands back the same object until the Secret changes,
 * so a certificate is parsed once, however often translation runs. The result is the same without it.
 */
const checkedSecrets = new WeakMap<SecretObject, PublicCertificateFromSecret>();

function checkSecret(secret: SecretObject, where: string, refused: string): PublicCertificateFromSecret {
  const invalid = (why: string): PublicCertificateFromSecret => ({ ok: false, reason: ResolvedRefsReason.InvalidSecret, message: `${where} ${why}; ${refused}` });
  if (secret.type !== TLS_SECRET_TYPE) return invalid(`is of type ${secret.type ?? "Opaque"}, not ${TLS_SECRET_TYPE}`);
  const certificateChain = secretValue(secret, "tls.crt");
  const privateKey = secretValue(secret, "tls.key");
  if (!certificateChain || !privateKey) return invalid(`has no ${!certificateChain ? "tls.crt" : "tls.key"}`);
  const chain = parseChain(certificateChain);
  if (typeof chain === "string") return invalid(`key tls.crt ${chain}`);
  let key: KeyObject;
  try {
    key = createPrivateKey(privateKey);
  } catch (error) {
    return invalid(`key tls.key is not a readable unencrypted private key (${error instanceof Error ? error.message : "unreadable"})`);
  }
  const problem = keyProblem(key);
  if (problem) return invalid(`key tls.key ${problem}; Envoy serves RSA keys of 2048 bits or more and ECDSA keys on P-256 or P-384`);
  const leaf = chain[0] as X509Certificate;
  if (!leaf.checkPrivateKey(key)) return invalid("key tls.key is not the private key of the first certificate of tls.crt");
  return { ok: true, pem: { certificateChain, privateKey } };
}
