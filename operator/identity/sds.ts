import type { JsonObject } from "../../envoy/json.js";
import { NAMES, type NamedResource } from "../../envoy/build/resources.js";
import { TypeUrl } from "../../envoy/type-urls.js";
import type { IssuedCertificate } from "./ca.js";

/** The SDS secret of a sidecar's own certificate and key (`workload-cert`). */
export function workloadCertificateSecret(issued: IssuedCertificate): NamedResource {
  const resource: JsonObject = {
    "@type": TypeUrl.secret,
    name: NAMES.workloadCertificate,
    tls_certificate: { certificate_chain: { inline_string: issued.certificateChainPem }, private_key: { inline_string: issued.privateKeyPem } },
  };
  return { name: NAMES.workloadCertificate, resource };
}

/**
 * The SDS secret peers are validated with (`trust-bundle`): the mesh's roots only. No SAN
 * matcher: Envoy makes any SAN matcher demand a client certificate, which would turn Permissive
 * into Strict; the workload CA issues nothing but mesh certificates, so its roots are the mesh.
 */
export function trustBundleSecret(trustBundlePem: string): NamedResource {
  const resource: JsonObject = {
    "@type": TypeUrl.secret,
    name: NAMES.trustBundle,
    validation_context: { trusted_ca: { inline_string: trustBundlePem } },
  };
  return { name: NAMES.trustBundle, resource };
}

/** The SDS secret of a policy's public certificate (`public-cert/<ns>/<secret>`), from its kubernetes.io/tls Secret. */
export function publicCertificateSecret(sdsName: string, pem: { certificateChain: string; privateKey: string }): NamedResource {
  const resource: JsonObject = {
    "@type": TypeUrl.secret,
    name: sdsName,
    tls_certificate: { certificate_chain: { inline_string: pem.certificateChain }, private_key: { inline_string: pem.privateKey } },
  };
  return { name: sdsName, resource };
}
