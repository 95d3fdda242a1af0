import type { APISecurityPolicy } from "../api/v1alpha1/policy.js";
import { durationSeconds } from "../api/v1alpha1/common.js";
import type { ResolvedPublicCertificate } from "../resolve/resolve.js";
import type { ListenerTlsIR } from "../../contract/ir.js";

type TlsSpec = NonNullable<APISecurityPolicy["spec"]["tls"]>;

/** The Strict-Transport-Security value of spec.tls.hsts (RFC 6797 §6.1). */
export function strictTransportSecurity(hsts: NonNullable<TlsSpec["hsts"]>): string {
  return [`max-age=${durationSeconds(hsts.maxAge)}`, ...(hsts.includeSubDomains ? ["includeSubDomains"] : []), ...(hsts.preload ? ["preload"] : [])].join("; ");
}

/**
 * The listener's TLS from spec.tls and the resolved public certificate. The minimum version
 * defaults to TLS 1.3 with a public certificate, 1.2 otherwise (mesh peers are Bulwark's own).
 */
export function buildListenerTls(tls: TlsSpec, publicCertificate: ResolvedPublicCertificate | undefined): ListenerTlsIR {
  const certificate = tls.certificate && publicCertificate ? { sdsName: publicCertificate.sdsName, usable: publicCertificate.pem !== undefined } : undefined;
  return {
    minVersion: tls.minVersion ?? (certificate ? "TLSv1.3" : "TLSv1.2"),
    mtls: tls.mtls,
    ...(certificate ? { publicCertificate: certificate } : {}),
    ...(certificate && tls.hsts ? { strictTransportSecurity: strictTransportSecurity(tls.hsts) } : {}),
  };
}
