/**
 * The egress proxy of a sidecar when mesh identity is enabled: a listener on loopback that the
 * app uses as its HTTP proxy (HTTP_PROXY, set by the injector), one virtual host per mesh Service
 * (by Host: `<svc>`, `<svc>.<ns>`, `<svc>.<ns>.svc`, `<svc>.<ns>.svc.<domain>`, with or without a
 * port), and one EDS cluster per Service towards its sidecars' inbound ports, over mTLS with the
 * caller's own workload certificate, verifying the destination's SPIFFE ids. Any other host gets
 * a 404 from the proxy itself: it is no open proxy.
 *
 * Clusters, endpoints and route configurations are the same for every sidecar (the route
 * configuration per caller namespace, for the bare `<svc>`), so they are built once per mesh and
 * shared: rendering 1,000 sidecars does not build 1,000 copies.
 */
import type { JsonObject } from "../json.js";
import type { MeshIR, MeshServiceIR } from "../../contract/ir.js";
import { adsConfigSource, socketAddress } from "./common.js";
import { ROUTER_FILTER } from "./filters/router.js";
import { NAMES, type NamedResource } from "./resources.js";
import { TypeUrl } from "../type-urls.js";

export const OUTBOUND = { listener: "outbound", routeConfiguration: "outbound", unknownHost: "outbound/unknown-host" } as const;

/** The answer for a host that is not a mesh Service. */
export const UNKNOWN_HOST_BODY = "bulwark: not a Service of the mesh; this proxy reaches only Services whose pods have a Bulwark sidecar\n";

/** Endpoint metadata that selects mTLS when a Service has sidecars with and without TLS. */
const MTLS_MATCH = "bulwark.dev/mtls";

const TLS_VERSIONS = { "TLSv1.2": "TLSv1_2", "TLSv1.3": "TLSv1_3" } as const;

function sds(name: string): JsonObject {
  return { name, sds_config: adsConfigSource() };
}

/** mTLS to a destination: the caller's own certificate, the mesh roots and the destination's SPIFFE ids. */
function upstreamTls(service: MeshServiceIR, tls: NonNullable<MeshServiceIR["tls"]>): JsonObject {
  return {
    name: "envoy.transport_sockets.tls",
    typed_config: {
      "@type": TypeUrl.upstreamTlsContext,
      common_tls_context: {
        tls_params: { tls_minimum_protocol_version: TLS_VERSIONS[tls.minVersion] },
        tls_certificate_sds_secret_configs: [sds(NAMES.workloadCertificate)],
        combined_validation_context: {
          default_validation_context: { match_typed_subject_alt_names: service.identities.map((id) => ({ san_type: "URI", matcher: { exact: id } })) },
          validation_context_sds_secret_config: sds(NAMES.trustBundle),
        },
      },
    },
  };
}

/** Both kinds of sidecars behind one Service: mTLS only to the endpoints marked for it (plaintext is the cluster's default). */
function mixed(service: MeshServiceIR): boolean {
  return service.tls !== undefined && service.endpoints.some((e) => !e.tls);
}

function meshCluster(service: MeshServiceIR): JsonObject {
  const tls = service.tls ? upstreamTls(service, service.tls) : undefined;
  return {
    "@type": TypeUrl.cluster,
    name: service.name,
    type: "EDS",
    eds_cluster_config: { eds_config: adsConfigSource() },
    connect_timeout: "1s",
    ...(tls && !mixed(service) ? { transport_socket: tls } : {}),
    ...(tls && mixed(service) ? { transport_socket_matches: [{ name: "mtls", match: { [MTLS_MATCH]: true }, transport_socket: tls }] } : {}),
  };
}

function meshEndpoints(service: MeshServiceIR): JsonObject {
  const marked = mixed(service);
  return {
    "@type": TypeUrl.clusterLoadAssignment,
    cluster_name: service.name,
    endpoints: [
      {
        lb_endpoints: service.endpoints.map((e) => ({
          endpoint: { address: socketAddress(e.address, e.port) },
          ...(marked && e.tls ? { metadata: { filter_metadata: { "envoy.transport_socket_match": { [MTLS_MATCH]: true } } } } : {}),
        })),
      },
    ],
  };
}

function virtualHost(service: MeshServiceIR, callerNamespace: string): JsonObject {
  const bare = service.namespace === callerNamespace ? [service.service, ...service.ports.map((p) => `${service.service}:${p}`)] : [];
  return {
    name: service.name,
    domains: [...bare, ...service.hosts],
    routes: [{ name: service.name, match: { prefix: "/" }, route: { cluster: service.name } }],
  };
}

function routeConfiguration(services: readonly MeshServiceIR[], callerNamespace: string): JsonObject {
  return {
    "@type": TypeUrl.routeConfiguration,
    name: OUTBOUND.routeConfiguration,
    virtual_hosts: [
      ...services.map((s) => virtualHost(s, callerNamespace)),
      {
        name: OUTBOUND.unknownHost,
        domains: ["*"],
        routes: [{ name: OUTBOUND.unknownHost, match: { prefix: "/" }, direct_response: { status: 404, body: { inline_string: UNKNOWN_HOST_BODY } } }],
      },
    ],
  };
}

function listener(port: number): JsonObject {
  return {
    "@type": TypeUrl.listener,
    name: OUTBOUND.listener,
    // Loopback only: the proxy serves the pod's own containers.
    address: socketAddress("127.0.0.1", port),
    filter_chains: [
      {
        name: "egress-proxy",
        filters: [
          {
            name: "envoy.filters.network.http_connection_manager",
            typed_config: {
              "@type": TypeUrl.httpConnectionManager,
              stat_prefix: OUTBOUND.listener,
              // Proxy-style requests (`GET http://svc.ns/path`) carry the destination in the URL.
              http_protocol_options: { allow_absolute_url: true },
              normalize_path: true,
              merge_slashes: true,
              rds: { route_config_name: OUTBOUND.routeConfiguration, config_source: adsConfigSource() },
              http_filters: [{ name: ROUTER_FILTER, typed_config: { "@type": TypeUrl.router } }],
            },
          },
        ],
      },
    ],
  };
}

export interface OutboundResources {
  listeners: NamedResource[];
  routes: NamedResource[];
  /** Sorted by name (`outbound/<ns>/<svc>`). */
  clusters: NamedResource[];
  endpoints: NamedResource[];
}

interface MeshMemo {
  clusters: NamedResource[];
  endpoints: NamedResource[];
  /** The clusters and endpoints of a scope (Service names joined), a subset of the above. */
  scopes: Map<string, { services: MeshServiceIR[]; clusters: NamedResource[]; endpoints: NamedResource[] }>;
  routes: Map<string, NamedResource[]>;
  listeners: Map<number, NamedResource[]>;
}

const memo = new WeakMap<MeshIR, MeshMemo>();

/**
 * The previous mesh's per-Service resources by content: a Service that did not change keeps its
 * objects from one mesh to the next (one endpoint change does not make 1,000 new clusters to
 * encode). Only the last generation is kept.
 */
let previousServices = new Map<string, { cluster: NamedResource; endpoints: NamedResource }>();

/**
 * One destination's own Envoy resources: its cluster, its endpoint set and the virtual host that
 * routes to it from a caller in its own namespace (the widest form: with the bare names). Pure;
 * throws when the entry cannot be expressed, which translation checks per destination before
 * any sidecar is built (operator/translate/translate.ts), so one bad destination fails only the
 * policies behind it.
 */
export function meshServiceResources(service: MeshServiceIR): { cluster: NamedResource; endpoints: NamedResource; virtualHost: JsonObject } {
  return {
    cluster: { name: service.name, resource: meshCluster(service) },
    endpoints: { name: service.name, resource: meshEndpoints(service) },
    virtualHost: virtualHost(service, service.namespace),
  };
}

function serviceResources(services: readonly MeshServiceIR[]): { clusters: NamedResource[]; endpoints: NamedResource[] } {
  const current = new Map<string, { cluster: NamedResource; endpoints: NamedResource }>();
  const clusters: NamedResource[] = [];
  const endpoints: NamedResource[] = [];
  for (const service of services) {
    const key = JSON.stringify(service);
    const entry = previousServices.get(key) ?? current.get(key) ?? meshServiceResources(service);
    current.set(key, entry);
    clusters.push(entry.cluster);
    endpoints.push(entry.endpoints);
  }
  previousServices = current;
  return { clusters, endpoints };
}

/**
 * The egress proxy of a sidecar in `callerNamespace` listening on `port`, reaching the mesh
 * Services named in `services` (its scope): a sidecar gets the routes, clusters and endpoints of
 * those only, so an endpoint change elsewhere is no push to it. Pure; shared objects for equal
 * arguments.
 */
export function buildOutboundResources(mesh: MeshIR, callerNamespace: string, port: number, services: readonly string[]): OutboundResources {
  let m = memo.get(mesh);
  if (!m) {
    m = { ...serviceResources(mesh.services), scopes: new Map(), routes: new Map(), listeners: new Map() };
    memo.set(mesh, m);
  }
  const scopeKey = services.join(",");
  let scope = m.scopes.get(scopeKey);
  if (!scope) {
    const wanted = new Set(services);
    const indexes = mesh.services.flatMap((s, i) => (wanted.has(s.name) ? [i] : []));
    scope = {
      services: indexes.flatMap((i) => mesh.services[i] ?? []),
      clusters: indexes.flatMap((i) => m.clusters[i] ?? []),
      endpoints: indexes.flatMap((i) => m.endpoints[i] ?? []),
    };
    m.scopes.set(scopeKey, scope);
  }
  const routesKey = `${callerNamespace}\u0000${scopeKey}`;
  let routes = m.routes.get(routesKey);
  if (!routes) {
    routes = [{ name: OUTBOUND.routeConfiguration, resource: routeConfiguration(scope.services, callerNamespace) }];
    m.routes.set(routesKey, routes);
  }
  let listeners = m.listeners.get(port);
  if (!listeners) {
    listeners = [{ name: OUTBOUND.listener, resource: listener(port) }];
    m.listeners.set(port, listeners);
  }
  return { listeners, routes, clusters: scope.clusters, endpoints: scope.endpoints };
}
