import type { JsonObject } from "../json.js";
import type { WorkloadIR } from "../../operator/ir/types.js";
import { adsConfigSource, socketAddress } from "./common.js";
import { buildOutcomeAccessLog } from "./filters/outcome-log.js";
import { NAMES } from "./resources.js";
import { tlsTransportSocket } from "./tls.js";
import { TYPE } from "./type-urls.js";

/** The connection manager: routes over RDS from the controller, filters in chain order. */
export function buildHttpConnectionManager(httpFilters: readonly JsonObject[], accessLog: readonly JsonObject[] = []): JsonObject {
  return {
    name: "envoy.filters.network.http_connection_manager",
    typed_config: {
      "@type": TYPE.httpConnectionManager,
      stat_prefix: NAMES.listener,
      use_remote_address: false,
      // Route matching sees the path the app will see: no dot segments, no doubled or escaped slashes.
      normalize_path: true,
      merge_slashes: true,
      path_with_escaped_slashes_action: "UNESCAPE_AND_REDIRECT",
      rds: { route_config_name: NAMES.routeConfiguration, config_source: adsConfigSource() },
      http_filters: [...httpFilters],
      ...(accessLog.length > 0 ? { access_log: [...accessLog] } : {}),
    },
  };
}

/** Filter chains: one plaintext, one TLS, or (mTLS Permissive) both, told apart by the TLS inspector. */
function filterChains(workload: WorkloadIR, hcm: JsonObject): JsonObject[] {
  const tls = workload.listener.tls;
  if (!tls) return [{ name: "plaintext", filters: [hcm] }];
  const tlsChain = { name: "tls", filters: [hcm], transport_socket: tlsTransportSocket(tls) };
  if (tls.mtls !== "Permissive") return [tlsChain];
  return [
    { ...tlsChain, filter_chain_match: { transport_protocol: "tls" } },
    { name: "plaintext", filter_chain_match: { transport_protocol: "raw_buffer" }, filters: [hcm] },
  ];
}

/** The sidecar's inbound listener on all addresses at the workload's listener port. */
export function buildListener(workload: WorkloadIR, httpFilters: readonly JsonObject[]): JsonObject {
  const permissive = workload.listener.tls?.mtls === "Permissive";
  return {
    "@type": TYPE.listener,
    name: NAMES.listener,
    address: socketAddress("0.0.0.0", workload.listener.port),
    ...(permissive ? { listener_filters: [{ name: "envoy.filters.listener.tls_inspector", typed_config: { "@type": TYPE.tlsInspector } }] } : {}),
    filter_chains: filterChains(workload, buildHttpConnectionManager(httpFilters, buildOutcomeAccessLog(workload))),
  };
}
