import type { JsonObject } from "../json.js";
import type { ClientAddressIR, WorkloadIR } from "../../contract/ir.js";
import { believedAddress, cidrRange, clientAddressOf, PEER_ADDRESS, trustedPeers } from "./client-address.js";
import { adsConfigSource, socketAddress } from "./common.js";
import type { FilterContext } from "./filters/feature.js";
import { callersLocalReplies } from "./filters/callers.js";
import { clientCidrsLocalReplies } from "./filters/client-cidrs.js";
import { buildOutcomeAccessLog } from "./filters/outcome-log.js";
import { buildShadowAccessLog } from "./filters/shadow-authorization.js";
import { buildTelemetryAccessLog } from "./filters/telemetry-log.js";
import { NAMES } from "./resources.js";
import { refuseEveryConnectionChain, tlsTransportSocket } from "./tls.js";
import { TypeUrl } from "../type-urls.js";

interface ConnectionManagerOptions {
  /** How the client's address is decided on this chain (client-address.ts). */
  address: JsonObject;
  accessLog?: readonly JsonObject[];
  localReplies?: readonly JsonObject[];
}

/** The connection manager: routes over RDS from the controller, filters in chain order. */
export function buildHttpConnectionManager(httpFilters: readonly JsonObject[], options: ConnectionManagerOptions): JsonObject {
  const accessLog = options.accessLog ?? [];
  const localReplies = options.localReplies ?? [];
  return {
    name: "envoy.filters.network.http_connection_manager",
    typed_config: {
      "@type": TypeUrl.httpConnectionManager,
      stat_prefix: NAMES.listener,
      ...options.address,
      // Route matching sees the path the app will see: no dot segments, no doubled or escaped slashes.
      normalize_path: true,
      merge_slashes: true,
      path_with_escaped_slashes_action: "UNESCAPE_AND_REDIRECT",
      // CGI-style frameworks read `x_user_id` as `x-user-id`, a header the policy may reserve: refused (400).
      common_http_protocol_options: { headers_with_underscores_action: "REJECT_REQUEST" },
      rds: { route_config_name: NAMES.routeConfiguration, config_source: adsConfigSource() },
      http_filters: [...httpFilters],
      ...(accessLog.length > 0 ? { access_log: [...accessLog] } : {}),
      ...(localReplies.length > 0 ? { local_reply_config: { mappers: [...localReplies] } } : {}),
    },
  };
}

type FilterChain = JsonObject & { name: string; filter_chain_match?: JsonObject };

/** Filter chains for one connection manager: one plaintext, one TLS, or (mTLS Permissive) both, told apart by the TLS inspector. */
function transportChains(workload: WorkloadIR, hcm: JsonObject): FilterChain[] {
  const tls = workload.listener.tls;
  if (!tls) return [{ name: "plaintext", filters: [hcm] }];
  if (tls.publicCertificate?.usable === false) return [refuseEveryConnectionChain()];
  const tlsChain = { name: "tls", filters: [hcm], transport_socket: tlsTransportSocket(tls) };
  if (tls.mtls !== "Permissive") return [tlsChain];
  return [
    { ...tlsChain, filter_chain_match: { transport_protocol: "tls" } },
    { name: "plaintext", filter_chain_match: { transport_protocol: "raw_buffer" }, filters: [hcm] },
  ];
}

/**
 * The listener's filter chains. When only some peers' word is believed (trustedCIDRs), the
 * chains matching those peers decide the address from what they say, and every other peer
 * lands on chains where the TCP peer is the client.
 */
function filterChains(workload: WorkloadIR, mode: ClientAddressIR, hcm: (address: JsonObject) => JsonObject): FilterChain[] {
  const peers = trustedPeers(mode);
  if (!peers) return transportChains(workload, hcm(believedAddress(mode)));
  const trusted = transportChains(workload, hcm(believedAddress(mode))).map((chain) => ({
    ...chain,
    name: `${chain.name}/trusted-proxies`,
    filter_chain_match: { ...chain.filter_chain_match, direct_source_prefix_ranges: peers.map(cidrRange) },
  }));
  return [...transportChains(workload, hcm(PEER_ADDRESS)), ...trusted];
}

const NO_STORE: JsonObject = { header: { key: "cache-control", value: "no-store" }, append_action: "OVERWRITE_IF_EXISTS_OR_ADD" };

function caches(workload: WorkloadIR): boolean {
  return workload.routes.some((r) => r.action.kind === "forward" && (r.action.defaultResponseHeaders ?? []).some((h) => h.name === "cache-control"));
}

/**
 * Envoy puts a route's response headers on the sidecar's own refusals too (401, 403, 429, 503),
 * so where rules set caching defaults every local reply says `Cache-Control: no-store`: a 429
 * with the images' `public, max-age=86400` would be kept by caches for a day. The first mapper
 * that matches applies, so each gets the header and a last one matches every other reply.
 */
function uncachedLocalReplies(workload: WorkloadIR, mappers: readonly JsonObject[]): JsonObject[] {
  if (!caches(workload)) return [...mappers];
  const withNoStore = mappers.map((m) => ({ ...m, headers_to_add: [...((m.headers_to_add as JsonObject[] | undefined) ?? []), NO_STORE] }));
  const everyReply: JsonObject = {
    filter: { extension_filter: { name: "envoy.access_loggers.extension_filters.cel", typed_config: { "@type": TypeUrl.celAccessLogFilter, expression: "true" } } },
    headers_to_add: [NO_STORE],
  };
  return [...withNoStore, everyReply];
}

/** The sidecar's inbound listener on all addresses at the workload's listener port. */
export function buildListener(ctx: FilterContext, httpFilters: readonly JsonObject[]): JsonObject {
  const workload = ctx.workload;
  const permissive = workload.listener.tls?.mtls === "Permissive";
  const accessLog = [...buildOutcomeAccessLog(workload), ...buildShadowAccessLog(workload), ...buildTelemetryAccessLog(ctx)];
  const localReplies = uncachedLocalReplies(workload, [...clientCidrsLocalReplies(workload), ...callersLocalReplies(workload)]);
  const hcm = (address: JsonObject): JsonObject => buildHttpConnectionManager(httpFilters, { address, accessLog, localReplies });
  return {
    "@type": TypeUrl.listener,
    name: NAMES.listener,
    address: socketAddress("0.0.0.0", workload.listener.port),
    ...(permissive ? { listener_filters: [{ name: "envoy.filters.listener.tls_inspector", typed_config: { "@type": TypeUrl.tlsInspector } }] } : {}),
    filter_chains: filterChains(workload, clientAddressOf(workload, ctx.settings), hcm),
  };
}
