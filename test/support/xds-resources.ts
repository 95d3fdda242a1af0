import type { JsonObject } from "../../envoy/json.js";
import { encodeResource } from "../../envoy/proto/encode.js";
import { makeSnapshot, type ResourceInput, type Snapshot } from "../../envoy/snapshot/snapshot.js";
import { XdsType } from "../../envoy/type-urls.js";

/**
 * Small, real xDS resources for tests and benchmarks: one inbound listener, its route
 * configuration, one EDS cluster and its endpoints, in proto3-JSON form, encoded to protobuf
 * by Bulwark's encoder (which refuses unknown fields).
 */

const ADS_SOURCE = { ads: {}, resource_api_version: "V3" };
const ROUTER = { name: "envoy.filters.http.router", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" } };

export interface SidecarFixture {
  /** Loopback port of the inbound listener. */
  listenerPort: number;
  /** Loopback port of the application (the EDS endpoint). */
  upstreamPort: number;
  /** Value of the `x-bulwark-config` header added to every response. */
  configTag: string;
  /** A route answered by Envoy itself, without the upstream. */
  directResponse?: { prefix: string; status: number; body: string };
  /** Adds a route whose safe_regex does not compile: Envoy rejects the route configuration. */
  invalidRegex?: boolean;
  /** Extra routes, to make the route configuration the size of a real sidecar's. */
  extraRoutes?: number;
}

export const LISTENER_NAME = "inbound";
export const ROUTE_NAME = "inbound";
export const CLUSTER_NAME = "app";
/** The HTTP connection manager's stat prefix: RDS stats are `http.inbound.rds.inbound.*`. */
export const STAT_PREFIX = "inbound";

export function listenerJson(port: number): JsonObject {
  return {
    "@type": "type.googleapis.com/envoy.config.listener.v3.Listener",
    name: LISTENER_NAME,
    address: { socket_address: { address: "127.0.0.1", port_value: port } },
    filter_chains: [
      {
        filters: [
          {
            name: "envoy.filters.network.http_connection_manager",
            typed_config: {
              "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
              stat_prefix: STAT_PREFIX,
              rds: { config_source: ADS_SOURCE, route_config_name: ROUTE_NAME },
              http_filters: [ROUTER],
            },
          },
        ],
      },
    ],
  };
}

export function routeJson(fixture: SidecarFixture): JsonObject {
  const routes: JsonObject[] = [];
  if (fixture.invalidRegex) routes.push({ match: { safe_regex: { regex: "([unclosed" } }, route: { cluster: CLUSTER_NAME } });
  if (fixture.directResponse) {
    const d = fixture.directResponse;
    routes.push({ match: { prefix: d.prefix }, direct_response: { status: d.status, body: { inline_string: d.body } } });
  }
  for (let i = 0; i < (fixture.extraRoutes ?? 0); i++) {
    routes.push({ match: { path: `/api/v1/resource-${i}` }, route: { cluster: CLUSTER_NAME, timeout: "5s" } });
  }
  routes.push({ match: { prefix: "/" }, route: { cluster: CLUSTER_NAME } });
  return {
    "@type": "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
    name: ROUTE_NAME,
    virtual_hosts: [{ name: "app", domains: ["*"], routes }],
    response_headers_to_add: [{ header: { key: "x-bulwark-config", value: fixture.configTag } }],
  };
}

export function edsClusterJson(name: string): JsonObject {
  return {
    "@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster",
    name,
    type: "EDS",
    eds_cluster_config: { eds_config: ADS_SOURCE },
    connect_timeout: "1s",
    lb_policy: "ROUND_ROBIN",
  };
}

export function loadAssignmentJson(clusterName: string, ports: readonly number[]): JsonObject {
  return {
    "@type": "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
    cluster_name: clusterName,
    endpoints: [
      {
        locality: { region: "local", zone: "loopback" },
        load_balancing_weight: 1,
        lb_endpoints: ports.map((port) => ({ endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: port } } } })),
      },
    ],
  };
}

/** The four resources of a sidecar, encoded, with the references the cache checks. */
export function sidecarResources(fixture: SidecarFixture): ResourceInput[] {
  return [
    { typeUrl: XdsType.Cluster, name: CLUSTER_NAME, body: encodeResource(edsClusterJson(CLUSTER_NAME)), references: [{ typeUrl: XdsType.Endpoints, name: CLUSTER_NAME }] },
    { typeUrl: XdsType.Endpoints, name: CLUSTER_NAME, body: encodeResource(loadAssignmentJson(CLUSTER_NAME, [fixture.upstreamPort])) },
    { typeUrl: XdsType.Listener, name: LISTENER_NAME, body: encodeResource(listenerJson(fixture.listenerPort)), references: [{ typeUrl: XdsType.Route, name: ROUTE_NAME }] },
    { typeUrl: XdsType.Route, name: ROUTE_NAME, body: encodeResource(routeJson(fixture)) },
  ];
}

export function sidecarSnapshot(fixture: SidecarFixture): Snapshot {
  return makeSnapshot(sidecarResources(fixture));
}
