/**
 * The workload CA: a root (or intermediate) key and certificate that signs short-lived workload
 * certificates with a SPIFFE URI SAN. X.509 encoding is @peculiar/x509's; keys and signatures are
 * node's WebCrypto.
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { pem, serialNumber } from "./encoding.js";
import { createPrivateKey, webcrypto, X509Certificate as NodeX509Certificate } from "node:crypto";
import { validity, type RotationPolicy } from "./rotation.js";
import { spiffeId, type WorkloadIdentity } from "./spiffe.js";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const subtle = webcrypto.subtle;

type CryptoKey = webcrypto.CryptoKey;
type SigningAlgorithm = webcrypto.EcdsaParams | webcrypto.RsaHashedImportParams;

/** Workload keys: ECDSA P-256 (small, fast handshakes, supported by every Envoy). */
const WORKLOAD_KEY: webcrypto.EcKeyGenParams & webcrypto.EcdsaParams = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };

export interface IssuedCertificate {
  identity: WorkloadIdentity;
  spiffeId: string;
  /** Leaf first, then the issuing CA when it is not the root of the trust bundle. */
  certificateChainPem: string;
  privateKeyPem: string;
  serialNumber: string;
  issuedAt: Date;
  notBefore: Date;
  notAfter: Date;
}

export interface CaMaterial {
  /** The CA's certificate (PEM). */
  certificatePem: string;
  /** Its private key (PEM, PKCS#8, SEC1 or PKCS#1). */
  privateKeyPem: string;
  /** The roots peers trust (PEM); the CA's certificate when absent. */
  trustBundlePem?: string;
}

/** Imports a PEM private key for signing, with the signature algorithm its type calls for. */
async function importSigningKey(privateKeyPem: string): Promise<{ key: CryptoKey; algorithm: SigningAlgorithm }> {
  const keyObject = createPrivateKey(privateKeyPem);
  const der = keyObject.export({ type: "pkcs8", format: "der" });
  if (keyObject.asymmetricKeyType === "ec") {
    const curve = keyObject.asymmetricKeyDetails?.namedCurve;
    const namedCurve = curve === "prime256v1" ? "P-256" : curve === "secp384r1" ? "P-384" : undefined;
    if (!namedCurve) throw new Error(`the CA key's curve ${curve ?? "?"} is not supported (P-256 or P-384)`);
    const algorithm = { name: "ECDSA", namedCurve, hash: namedCurve === "P-384" ? "SHA-384" : "SHA-256" };
    return { key: await subtle.importKey("pkcs8", der, algorithm, false, ["sign"]), algorithm };
  }
  if (keyObject.asymmetricKeyType === "rsa") {
    const algorithm = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
    return { key: await subtle.importKey("pkcs8", der, algorithm, false, ["sign"]), algorithm };
  }
  throw new Error(`the CA key's type ${keyObject.asymmetricKeyType ?? "?"} is not supported (EC or RSA)`);
}

export class WorkloadCa {
  private constructor(
    private readonly certificate: x509.X509Certificate,
    private readonly signingKey: CryptoKey,
    private readonly algorithm: SigningAlgorithm,
    readonly certificatePem: string,
    readonly privateKeyPem: string,
    readonly trustBundlePem: string,
    readonly trustDomain: string,
  ) {}

  /** A new self-signed root for `trustDomain`, valid ten years from `now`. */
  static async generate(trustDomain: string, now: Date): Promise<WorkloadCa> {
    const keys = await subtle.generateKey(WORKLOAD_KEY, true, ["sign", "verify"]);
    const certificate = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serialNumber(),
      name: `CN=Bulwark workload CA, O=${trustDomain}`,
      notBefore: new Date(now.getTime() - 3600_000),
      notAfter: new Date(now.getTime() + 10 * 365 * 24 * 3600_000),
      keys,
      signingAlgorithm: WORKLOAD_KEY,
      extensions: [
        new x509.BasicConstraintsExtension(true, 1, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    const privateKeyPem = pem("PRIVATE KEY", await subtle.exportKey("pkcs8", keys.privateKey));
    return WorkloadCa.load({ certificatePem: certificate.toString("pem"), privateKeyPem }, trustDomain);
  }

  /** The CA from its PEM material (a Secret's tls.crt, tls.key and optional ca.crt). */
  static async load(material: CaMaterial, trustDomain: string): Promise<WorkloadCa> {
    const certificate = new x509.X509Certificate(material.certificatePem);
    const basic = certificate.getExtension(x509.BasicConstraintsExtension);
    if (!basic?.ca) throw new Error(`the CA certificate ${certificate.subject} is not a CA (basicConstraints CA:TRUE is missing)`);
    const { key, algorithm } = await importSigningKey(material.privateKeyPem);
    if (!new NodeX509Certificate(material.certificatePem).checkPrivateKey(createPrivateKey(material.privateKeyPem)))
      throw new Error("the CA private key does not belong to the CA certificate");
    const trustBundlePem = material.trustBundlePem?.trim() ? material.trustBundlePem : certificate.toString("pem");
    return new WorkloadCa(
      certificate,
      key,
      algorithm,
      certificate.toString("pem"),
      material.privateKeyPem,
      trustBundlePem.endsWith("\n") ? trustBundlePem : `${trustBundlePem}\n`,
      trustDomain,
    );
  }

  get notAfter(): Date {
    return this.certificate.notAfter;
  }

  /** A new key and certificate for `identity`, valid per `policy` from `now`. */
  async issue(identity: WorkloadIdentity, now: Date, policy: RotationPolicy): Promise<IssuedCertificate> {
    const keys = await subtle.generateKey(WORKLOAD_KEY, true, ["sign", "verify"]);
    const id = spiffeId(this.trustDomain, identity);
    const { notBefore, notAfter: wanted } = validity(now, policy);
    // Never past the CA's own expiry: a peer would refuse the chain.
    const notAfter = wanted.getTime() > this.certificate.notAfter.getTime() ? this.certificate.notAfter : wanted;
    const serial = serialNumber();
    const leaf = await x509.X509CertificateGenerator.create({
      serialNumber: serial,
      subject: `O=${this.trustDomain}`,
      issuer: this.certificate.subject,
      notBefore,
      notAfter,
      publicKey: keys.publicKey,
      signingKey: this.signingKey,
      signingAlgorithm: this.algorithm,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
        new x509.SubjectAlternativeNameExtension([{ type: "url", value: id }]),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(this.certificate),
      ],
    });
    const selfSigned = this.certificate.subject === this.certificate.issuer;
    const bundleHasCa = this.trustBundlePem.includes(this.certificatePem.trim());
    const chain = leaf.toString("pem") + "\n" + (selfSigned && bundleHasCa ? "" : this.certificatePem);
    return {
      identity,
      spiffeId: id,
      certificateChainPem: chain.endsWith("\n") ? chain : `${chain}\n`,
      privateKeyPem: pem("PRIVATE KEY", await subtle.exportKey("pkcs8", keys.privateKey)),
      serialNumber: serial,
      issuedAt: now,
      notBefore,
      notAfter,
    };
  }
}
