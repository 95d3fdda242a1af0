import type { JsonObject } from "../json.js";
import type { ListenerIR } from "../../contract/ir.js";
import { adsConfigSource } from "./common.js";
import { NAMES } from "./resources.js";
import { TypeUrl } from "../type-urls.js";

type ListenerTls = NonNullable<ListenerIR["tls"]>;

const TLS_VERSIONS: Record<ListenerTls["minVersion"], string> = { "TLSv1.2": "TLSv1_2", "TLSv1.3": "TLSv1_3" };

function sdsSecret(name: string): JsonObject {
  return { name, sds_config: adsConfigSource() };
}

/**
 * The listener's TLS: the workload certificate over SDS, or the policy's public certificate (its
 * own SDS secret, so a rotation of the Secret changes that secret alone and Envoy swaps it without
 * draining the listener); with mTLS, client certificates are validated against the trust bundle
 * (also over SDS) and, when Strict, required.
 */
export function buildDownstreamTlsContext(tls: ListenerTls): JsonObject {
  const mtls = tls.mtls !== "Disabled";
  return {
    "@type": TypeUrl.downstreamTlsContext,
    common_tls_context: {
      tls_params: { tls_minimum_protocol_version: TLS_VERSIONS[tls.minVersion] },
      alpn_protocols: ["h2", "http/1.1"],
      tls_certificate_sds_secret_configs: [sdsSecret(tls.publicCertificate?.sdsName ?? NAMES.workloadCertificate)],
      ...(mtls ? { validation_context_sds_secret_config: sdsSecret(NAMES.trustBundle) } : {}),
    },
    ...(tls.mtls === "Strict" ? { require_client_certificate: true } : {}),
  };
}

export function tlsTransportSocket(tls: ListenerTls): JsonObject {
  return { name: "envoy.transport_sockets.tls", typed_config: buildDownstreamTlsContext(tls) };
}

/**
 * The only filter chain of a listener whose public certificate is missing or broken: every
 * connection is closed as soon as it is accepted (a direct response with nothing to say). No
 * plaintext, and no other certificate in its place.
 */
export function refuseEveryConnectionChain(): JsonObject & { name: string } {
  return {
    name: "public-certificate-unavailable",
    filters: [{ name: "envoy.filters.network.direct_response", typed_config: { "@type": TypeUrl.directResponse } }],
  };
}
