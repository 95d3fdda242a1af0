import { generateKeyPairSync } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { issuePublicCertificate, tlsSecret, type PublicCertificate } from "../../test/support/public-certificate.js";
import { publicCertificateFromSecret } from "./public-certificate.js";

let good: PublicCertificate;
let other: PublicCertificate;

beforeAll(async () => {
  good = await issuePublicCertificate(["api.shop.example"]);
  other = await issuePublicCertificate(["api.shop.example"]);
});

const read = (secret: ReturnType<typeof tlsSecret>): ReturnType<typeof publicCertificateFromSecret> =>
  publicCertificateFromSecret({ secrets: [secret], namespace: "shop", name: "api-tls" });

const pkcs8 = (key: { export(options: { type: "pkcs8"; format: "pem" }): string | Buffer }): string => key.export({ type: "pkcs8", format: "pem" }).toString();

describe("publicCertificateFromSecret", () => {
  it("reads the chain and key of a kubernetes.io/tls Secret of the policy's namespace", () => {
    expect(read(tlsSecret("shop", "api-tls", good))).toEqual({ ok: true, pem: { certificateChain: good.chainPem, privateKey: good.keyPem } });
  });

  it("refuses a Secret of another namespace or name: SecretNotFound", () => {
    for (const secret of [tlsSecret("other", "api-tls", good), tlsSecret("shop", "api-tls-2", good)]) {
      expect(read(secret)).toEqual({
        ok: false,
        reason: "SecretNotFound",
        message: "Secret shop/api-tls (the public certificate of spec.tls.certificate) not found; the sidecar refuses every connection until it is fixed",
      });
    }
  });

  it.each([
    ["an Opaque Secret", () => tlsSecret("shop", "api-tls", good, "Opaque"), "is of type Opaque, not kubernetes.io/tls"],
    ["no tls.key", () => ({ ...tlsSecret("shop", "api-tls", good), data: { "tls.crt": Buffer.from(good.chainPem).toString("base64") } }), "has no tls.key"],
    ["a key that is not PEM", () => tlsSecret("shop", "api-tls", { chainPem: good.chainPem, keyPem: "not a key" }), "key tls.key is not a readable unencrypted private key"],
    ["a certificate that is not PEM", () => tlsSecret("shop", "api-tls", { chainPem: "not a certificate", keyPem: good.keyPem }), "key tls.crt holds no PEM certificate"],
    [
      "a certificate block whose DER is broken",
      () => tlsSecret("shop", "api-tls", { chainPem: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", keyPem: good.keyPem }),
      "key tls.crt has a certificate that does not parse (#1:",
    ],
    [
      "a chain glued together without a line break",
      () => tlsSecret("shop", "api-tls", { chainPem: `${good.leafPem.trimEnd()}${good.caPem}`, keyPem: good.keyPem }),
      "key tls.crt has a certificate whose END line does not end the line",
    ],
    [
      "the key of another certificate",
      () => tlsSecret("shop", "api-tls", { chainPem: good.chainPem, keyPem: other.keyPem }),
      "key tls.key is not the private key of the first certificate of tls.crt",
    ],
    [
      "a 1024-bit RSA key",
      () => tlsSecret("shop", "api-tls", { chainPem: good.chainPem, keyPem: pkcs8(generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey) }),
      "key tls.key is an RSA key shorter than 2048 bits; Envoy serves",
    ],
    [
      "an Ed25519 key",
      () => tlsSecret("shop", "api-tls", { chainPem: good.chainPem, keyPem: pkcs8(generateKeyPairSync("ed25519").privateKey) }),
      "key tls.key is a key of type ed25519",
    ],
  ])("refuses %s: InvalidSecret, saying why", (_what, secret, why) => {
    const result = read(secret());
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.reason).toBe("InvalidSecret");
    expect(result.message).toContain(`Secret shop/api-tls (the public certificate of spec.tls.certificate) ${why}`);
    expect(result.message).toMatch(/the sidecar refuses every connection until it is fixed$/);
  });
});
