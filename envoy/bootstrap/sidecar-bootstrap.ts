/**
 * The bootstrap a sidecar starts with: who it is (node), where its configuration comes from
 * (ADS to the controller), an admin endpoint on loopback only, and limits that keep a
 * misbehaving client from taking the pod down.
 */
import { googleGrpcService } from "../google-grpc.js";

export interface SidecarBootstrapOptions {
  node: {
    /** `<pod>.<namespace>`: the key of its snapshot. */
    id: string;
    /** The workload: `<namespace>/<service account or app>`. */
    cluster: string;
    metadata?: Record<string, string>;
  };
  xds: {
    host: string;
    port: number;
    /** Delta (incremental) xDS instead of state of the world. */
    delta?: boolean;
    /**
     * Verify the controller's certificate with this CA (PEM); the certificate must name `host`
     * (or `serverName`, when the sidecar reaches the controller under another name).
     * Plaintext only when absent, which the controller refuses: for tests of the protocol alone.
     */
    tls?: { caPem: string; serverName?: string };
    /**
     * The file of the projected ServiceAccount token the sidecar presents on every stream
     * (`authorization: Bearer <token>`). Read again for each new stream, so the kubelet's
     * rotation of the file is picked up. Requires `tls`.
     */
    tokenFile?: string;
  };
  admin: { port: number };
  /**
   * The kubelet's HTTP probes of the app, when inbound traffic to the app port is intercepted
   * (it would otherwise meet the policy): a listener on every address at `port` that forwards
   * exactly these paths, GET only, to the app on loopback, and answers 404 to anything else.
   */
  probes?: ProbeListener;
  /** Heap limit for the overload manager (default 256 MiB). */
  maxHeapBytes?: number;
  /** Downstream connections accepted at most (default 10,000). */
  maxDownstreamConnections?: number;
}

export const XDS_CLUSTER = "bulwark-xds";

export interface ProbeListener {
  port: number;
  appPort: number;
  /** The probes' paths (a query string is allowed; the match is on the path before it). */
  paths: readonly string[];
}

/** Names of the probe listener and its cluster (static, so never replaced over xDS). */
export const PROBES = { listener: "bulwark-probes", cluster: "bulwark-probes-app" } as const;

/** The static listener and cluster that carry the kubelet's probes to the app (see `probes`). */
export function probeResources(probes: ProbeListener): { listener: Record<string, unknown>; cluster: Record<string, unknown> } {
  const paths = [...new Set(probes.paths.map((p) => p.split("?")[0] ?? p))].sort();
  const routes = paths.map((path) => ({
    match: { path, headers: [{ name: ":method", string_match: { exact: "GET" } }] },
    route: { cluster: PROBES.cluster, timeout: "10s" },
  }));
  const hcm = {
    "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
    stat_prefix: "bulwark_probes",
    route_config: { name: PROBES.listener, virtual_hosts: [{ name: PROBES.listener, domains: ["*"], routes }] },
    http_filters: [{ name: "envoy.filters.http.router", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" } }],
  };
  return {
    listener: {
      name: PROBES.listener,
      address: { socket_address: { address: "0.0.0.0", port_value: probes.port } },
      filter_chains: [{ filters: [{ name: "envoy.filters.network.http_connection_manager", typed_config: hcm }] }],
    },
    cluster: {
      name: PROBES.cluster,
      type: "STATIC",
      connect_timeout: "1s",
      load_assignment: {
        cluster_name: PROBES.cluster,
        endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: probes.appPort } } } }] }],
      },
    },
  };
}

const isIp = (host: string): boolean => /^[0-9.]+$/.test(host) || host.includes(":");

// Reconnect quickly after the controller restarts (Envoy's default backs off up to 30 s).
const RETRY_POLICY = { retry_back_off: { base_interval: "0.25s", max_interval: "5s" } };

/**
 * The ADS service over TLS with the pod's token: Envoy's Google gRPC client, whose call
 * credentials plugin `envoy.grpc_credentials.file_based_metadata` reads the token file again for
 * every stream (the Envoy gRPC client only has static initial metadata, which a rotated token
 * would leave stale). Its stream retries use Envoy's default backoff (0.5 s growing to 30 s; the
 * retry policy of the Envoy gRPC client does not apply to it, measured with Envoy 1.40): with
 * several controller replicas behind the Service a sidecar reconnects to another one at once;
 * only when every replica was down for a while does it take up to 30 s to come back.
 */
function adsService(xds: SidecarBootstrapOptions["xds"]): Record<string, unknown> {
  if (!xds.tls) {
    if (xds.tokenFile) throw new Error("a token is sent to the controller only over TLS: set xds.tls");
    return { envoy_grpc: { cluster_name: XDS_CLUSTER, retry_policy: RETRY_POLICY } };
  }
  return googleGrpcService({
    host: xds.host,
    port: xds.port,
    tls: xds.tls,
    ...(xds.tokenFile ? { tokenFile: xds.tokenFile } : {}),
    statPrefix: "bulwark_xds",
    channelArgs: { "grpc.keepalive_time_ms": { int_value: "30000" }, "grpc.keepalive_timeout_ms": { int_value: "5000" } },
  });
}

/** The static cluster of the plaintext ADS service (tests of the protocol only). */
function plaintextXdsCluster(xds: SidecarBootstrapOptions["xds"]): Record<string, unknown> {
  return {
    name: XDS_CLUSTER,
    type: isIp(xds.host) ? "STATIC" : "STRICT_DNS",
    connect_timeout: "1s",
    load_assignment: {
      cluster_name: XDS_CLUSTER,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: xds.host, port_value: xds.port } } } }] }],
    },
    typed_extension_protocol_options: {
      "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
        "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
        explicit_http_config: { http2_protocol_options: { connection_keepalive: { interval: "30s", timeout: "5s" } } },
      },
    },
  };
}

function staticResources(options: SidecarBootstrapOptions): Record<string, unknown> {
  const probes = options.probes && options.probes.paths.length > 0 ? probeResources(options.probes) : undefined;
  const clusters = [...(options.xds.tls ? [] : [plaintextXdsCluster(options.xds)]), ...(probes ? [probes.cluster] : [])];
  if (clusters.length === 0) return {};
  return { static_resources: { ...(probes ? { listeners: [probes.listener] } : {}), clusters } };
}

export function sidecarBootstrap(options: SidecarBootstrapOptions): Record<string, unknown> {
  const ads = { ads: {}, resource_api_version: "V3" };
  const maxHeap = options.maxHeapBytes ?? 256 * 1024 * 1024;
  return {
    node: {
      id: options.node.id,
      cluster: options.node.cluster,
      ...(options.node.metadata ? { metadata: options.node.metadata } : {}),
    },
    dynamic_resources: {
      ads_config: {
        api_type: options.xds.delta ? "DELTA_GRPC" : "GRPC",
        transport_api_version: "V3",
        grpc_services: [adsService(options.xds)],
        set_node_on_first_message_only: true,
      },
      cds_config: ads,
      lds_config: ads,
    },
    ...staticResources(options),
    admin: { address: { socket_address: { address: "127.0.0.1", port_value: options.admin.port } } },
    overload_manager: {
      refresh_interval: "0.25s",
      resource_monitors: [
        {
          name: "envoy.resource_monitors.fixed_heap",
          typed_config: { "@type": "type.googleapis.com/envoy.extensions.resource_monitors.fixed_heap.v3.FixedHeapConfig", max_heap_size_bytes: String(maxHeap) },
        },
        {
          name: "envoy.resource_monitors.global_downstream_max_connections",
          typed_config: {
            "@type": "type.googleapis.com/envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig",
            max_active_downstream_connections: String(options.maxDownstreamConnections ?? 10_000),
          },
        },
      ],
      actions: [
        { name: "envoy.overload_actions.shrink_heap", triggers: [{ name: "envoy.resource_monitors.fixed_heap", threshold: { value: 0.95 } }] },
        { name: "envoy.overload_actions.stop_accepting_requests", triggers: [{ name: "envoy.resource_monitors.fixed_heap", threshold: { value: 0.98 } }] },
      ],
    },
    stats_config: { use_all_default_tags: true },
  };
}

/** Command-line flags for a sidecar: quick drain so a pod stops promptly, no hot restart. */
export function sidecarArgs(configPath: string): string[] {
  return ["--config-path", configPath, "--drain-time-s", "5", "--drain-strategy", "immediate", "--disable-hot-restart", "--concurrency", "1"];
}
