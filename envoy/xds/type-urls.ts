/** The xDS resource types Bulwark serves, and the order they are pushed in. */
export const TypeUrl = {
  Cluster: "type.googleapis.com/envoy.config.cluster.v3.Cluster",
  Endpoints: "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
  Secret: "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret",
  Listener: "type.googleapis.com/envoy.config.listener.v3.Listener",
  Route: "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
} as const;
export type TypeUrl = (typeof TypeUrl)[keyof typeof TypeUrl];

/**
 * Clusters and endpoints before the listeners and routes that use them, secrets before the
 * listeners whose TLS needs them: a sidecar never waits on a resource that comes later.
 */
export const pushOrder: readonly TypeUrl[] = [TypeUrl.Cluster, TypeUrl.Endpoints, TypeUrl.Secret, TypeUrl.Listener, TypeUrl.Route];

/** Types a sidecar requests as a whole (wildcard); the others it requests by name. */
export function isWildcardType(typeUrl: string): boolean {
  return typeUrl === TypeUrl.Cluster || typeUrl === TypeUrl.Listener;
}

export function shortTypeName(typeUrl: string): string {
  switch (typeUrl) {
    case TypeUrl.Cluster:
      return "CDS";
    case TypeUrl.Endpoints:
      return "EDS";
    case TypeUrl.Secret:
      return "SDS";
    case TypeUrl.Listener:
      return "LDS";
    case TypeUrl.Route:
      return "RDS";
    default:
      return typeUrl;
  }
}
