import { isIP } from "node:net";
import type { JsonObject } from "../json.js";
import type { ServiceAddress, UpstreamHostIR, WorkloadIR } from "../../contract/ir.js";
import { adsConfigSource, socketAddress } from "./common.js";
import { NAMES } from "./resources.js";
import { TypeUrl } from "../type-urls.js";

/** A cluster and, when it is an EDS cluster, the ClusterLoadAssignment served for it. */
export interface UpstreamCluster {
  name: string;
  cluster: JsonObject;
  loadAssignment?: JsonObject;
}

const CONNECT_TIMEOUT = "1s";
const REMOTE_CONNECT_TIMEOUT = "5s";
/**
 * The CA bundle of the sidecar image (Debian/Ubuntu layout, as in the official Envoy images).
 * Envoy 1.40 refuses SAN verification against `system_root_certs`, so the bundle is named.
 */
export const SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

export function loadAssignment(clusterName: string, addresses: readonly ServiceAddress[]): JsonObject {
  return {
    "@type": TypeUrl.clusterLoadAssignment,
    cluster_name: clusterName,
    endpoints: [{ lb_endpoints: addresses.map((a) => ({ endpoint: { address: socketAddress(a.host, a.port) } })) }],
  };
}

/** Bulwark's gRPC services speak HTTP/2 only. */
function http2Only(): JsonObject {
  return {
    "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
      "@type": TypeUrl.httpProtocolOptions,
      explicit_http_config: { http2_protocol_options: {} },
    },
  };
}

function edsCluster(options: { name: string; http2: boolean }): JsonObject {
  return {
    "@type": TypeUrl.cluster,
    name: options.name,
    type: "EDS",
    eds_cluster_config: { eds_config: adsConfigSource() },
    connect_timeout: CONNECT_TIMEOUT,
    ...(options.http2 ? { typed_extension_protocol_options: http2Only() } : {}),
  };
}

/** The application container, on loopback. */
export function appCluster(workload: WorkloadIR): UpstreamCluster {
  return {
    name: NAMES.appCluster,
    cluster: edsCluster({ name: NAMES.appCluster, http2: false }),
    loadAssignment: loadAssignment(NAMES.appCluster, [{ host: "127.0.0.1", port: workload.app.port }]),
  };
}

/**
 * A Bulwark gRPC service (authz, ratelimit). An IP address is served over EDS; a DNS name
 * (a Service's name) is resolved by the sidecar itself (STRICT_DNS, every address a backend),
 * because Envoy refuses host names in endpoints it receives over EDS.
 */
export function grpcServiceCluster(name: string, address: ServiceAddress): UpstreamCluster {
  if (isIP(address.host) !== 0) return { name, cluster: edsCluster({ name, http2: true }), loadAssignment: loadAssignment(name, [address]) };
  const { "@type": _type, ...assignment } = loadAssignment(name, [address]);
  return {
    name,
    cluster: {
      "@type": TypeUrl.cluster,
      name,
      type: "STRICT_DNS",
      dns_lookup_family: "V4_PREFERRED",
      connect_timeout: CONNECT_TIMEOUT,
      load_assignment: assignment,
      typed_extension_protocol_options: http2Only(),
    },
  };
}

/** A host reached by URL (a JWKS endpoint): resolved by DNS; over TLS, its certificate must name the host and chain to a system root. */
export function remoteHostCluster(host: UpstreamHostIR): UpstreamCluster {
  const { "@type": _type, ...assignment } = loadAssignment(host.name, [{ host: host.host, port: host.port }]);
  return {
    name: host.name,
    cluster: {
      "@type": TypeUrl.cluster,
      name: host.name,
      type: "LOGICAL_DNS",
      dns_lookup_family: "V4_PREFERRED",
      connect_timeout: REMOTE_CONNECT_TIMEOUT,
      load_assignment: assignment,
      ...(host.tls
        ? {
            transport_socket: {
              name: "envoy.transport_sockets.tls",
              typed_config: {
                "@type": TypeUrl.upstreamTlsContext,
                sni: host.host,
                common_tls_context: {
                  validation_context: {
                    trusted_ca: { filename: SYSTEM_CA_BUNDLE },
                    match_typed_subject_alt_names: [{ san_type: "DNS", matcher: { exact: host.host } }],
                  },
                },
              },
            },
          }
        : {}),
    },
  };
}
