import { X509Certificate } from "node:crypto";
import { request, type RequestOptions } from "node:https";
import { connect, type TLSSocket } from "node:tls";
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

/** How a public client's HTTPS request ended: status, headers, the certificate served and the protocol. */
export interface HttpsAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  serial: string;
  protocol: string | null;
}

export interface PublicClientOptions {
  port: number;
  /** The public name: SNI, Host and the DNS name the certificate must carry. */
  host: string;
  /** Roots the client trusts. */
  ca: string[];
  maxVersion?: RequestOptions["maxVersion"];
}

/** One HTTPS request on a new connection to 127.0.0.1:`port`, as a public client sends it. */
export function httpsGet(path: string, options: PublicClientOptions): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port: options.port,
        path,
        servername: options.host,
        headers: { host: options.host },
        ca: options.ca,
        agent: false,
        ...(options.maxVersion ? { maxVersion: options.maxVersion } : {}),
        checkServerIdentity: (_host, cert) => (cert.subjectaltname === `DNS:${options.host}` ? undefined : new Error(`the sidecar presented ${cert.subjectaltname}`)),
        timeout: 3000,
      },
      (res) => {
        const socket = res.socket as TLSSocket;
        const answer = { status: res.statusCode ?? 0, headers: res.headers, serial: socket.getPeerCertificate().serialNumber, protocol: socket.getProtocol() };
        res.resume();
        res.on("end", () => resolve(answer));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end();
  });
}

/** What a TLS handshake with the sidecar ends in: `connected with <protocol>`, or `failed: <why>`. */
export function tlsHandshake(options: PublicClientOptions): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port: options.port, servername: options.host, ca: options.ca });
    socket.setTimeout(3000, () => socket.destroy(new Error("timed out")));
    socket.once("secureConnect", () => {
      resolve(`connected with ${socket.getProtocol() ?? "?"}`);
      socket.destroy();
    });
    socket.once("error", (error: Error) => resolve(`failed: ${error.message}`));
    socket.once("close", () => resolve("failed: closed"));
  });
}

/** The serial number of a PEM certificate, as node:tls reports a peer's. */
export const serialOf = (pem: string): string => new X509Certificate(pem).serialNumber;
