/**
 * The bootstrap a sidecar starts with: who it is (node), where its configuration comes from
 * (ADS to the controller), an admin endpoint on loopback only, and limits that keep a
 * misbehaving client from taking the pod down.
 */
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
    /** Verify the controller's certificate with this CA (PEM); plaintext when absent. */
    tls?: { caPem: string; serverName: string };
  };
  admin: { port: number };
  /** Heap limit for the overload manager (default 256 MiB). */
  maxHeapBytes?: number;
  /** Downstream connections accepted at most (default 10,000). */
  maxDownstreamConnections?: number;
}

export const XDS_CLUSTER = "bulwark-xds";

const isIp = (host: string): boolean => /^[0-9.]+$/.test(host) || host.includes(":");

export function sidecarBootstrap(options: SidecarBootstrapOptions): Record<string, unknown> {
  const ads = { ads: {}, resource_api_version: "V3" };
  const maxHeap = options.maxHeapBytes ?? 256 * 1024 * 1024;
  const xdsCluster: Record<string, unknown> = {
    name: XDS_CLUSTER,
    type: isIp(options.xds.host) ? "STATIC" : "STRICT_DNS",
    connect_timeout: "1s",
    load_assignment: {
      cluster_name: XDS_CLUSTER,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: options.xds.host, port_value: options.xds.port } } } }] }],
    },
    typed_extension_protocol_options: {
      "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
        "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
        explicit_http_config: { http2_protocol_options: { connection_keepalive: { interval: "30s", timeout: "5s" } } },
      },
    },
    ...(options.xds.tls
      ? {
          transport_socket: {
            name: "envoy.transport_sockets.tls",
            typed_config: {
              "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
              sni: options.xds.tls.serverName,
              common_tls_context: {
                validation_context: { trusted_ca: { inline_string: options.xds.tls.caPem }, match_typed_subject_alt_names: [{ san_type: "DNS", matcher: { exact: options.xds.tls.serverName } }] },
              },
            },
          },
        }
      : {}),
  };
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
        // Reconnect quickly after the controller restarts (Envoy's default backs off up to 30 s).
        grpc_services: [{ envoy_grpc: { cluster_name: XDS_CLUSTER, retry_policy: { retry_back_off: { base_interval: "0.25s", max_interval: "5s" } } } }],
        set_node_on_first_message_only: true,
      },
      cds_config: ads,
      lds_config: ads,
    },
    static_resources: { clusters: [xdsCluster] },
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
