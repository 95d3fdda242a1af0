/**
 * Type URLs of the Envoy messages Bulwark writes: the one place they are spelled. `TypeUrl` names
 * every message (resources and the typed configs inside them, for envoy/build and the bootstraps);
 * `XdsType` is the subset served as xDS resources (for envoy/snapshot and envoy/xds).
 */
const prefix = "type.googleapis.com/";

export const TypeUrl = {
  listener: `${prefix}envoy.config.listener.v3.Listener`,
  routeConfiguration: `${prefix}envoy.config.route.v3.RouteConfiguration`,
  cluster: `${prefix}envoy.config.cluster.v3.Cluster`,
  clusterLoadAssignment: `${prefix}envoy.config.endpoint.v3.ClusterLoadAssignment`,
  secret: `${prefix}envoy.extensions.transport_sockets.tls.v3.Secret`,
  httpConnectionManager: `${prefix}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`,
  downstreamTlsContext: `${prefix}envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext`,
  upstreamTlsContext: `${prefix}envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext`,
  tlsInspector: `${prefix}envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector`,
  httpProtocolOptions: `${prefix}envoy.extensions.upstreams.http.v3.HttpProtocolOptions`,
  uriTemplateMatch: `${prefix}envoy.extensions.path.match.uri_template.v3.UriTemplateMatchConfig`,
  jwtAuthentication: `${prefix}envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication`,
  jwtPerRoute: `${prefix}envoy.extensions.filters.http.jwt_authn.v3.PerRouteConfig`,
  rbac: `${prefix}envoy.extensions.filters.http.rbac.v3.RBAC`,
  rbacPerRoute: `${prefix}envoy.extensions.filters.http.rbac.v3.RBACPerRoute`,
  directResponse: `${prefix}envoy.extensions.filters.network.direct_response.v3.Config`,
  extAuthz: `${prefix}envoy.extensions.filters.http.ext_authz.v3.ExtAuthz`,
  extAuthzPerRoute: `${prefix}envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute`,
  localRateLimit: `${prefix}envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit`,
  rateLimit: `${prefix}envoy.extensions.filters.http.ratelimit.v3.RateLimit`,
  buffer: `${prefix}envoy.extensions.filters.http.buffer.v3.Buffer`,
  bufferPerRoute: `${prefix}envoy.extensions.filters.http.buffer.v3.BufferPerRoute`,
  compressor: `${prefix}envoy.extensions.filters.http.compressor.v3.Compressor`,
  cors: `${prefix}envoy.extensions.filters.http.cors.v3.Cors`,
  corsPolicy: `${prefix}envoy.extensions.filters.http.cors.v3.CorsPolicy`,
  brotli: `${prefix}envoy.extensions.compression.brotli.compressor.v3.Brotli`,
  gzip: `${prefix}envoy.extensions.compression.gzip.compressor.v3.Gzip`,
  router: `${prefix}envoy.extensions.filters.http.router.v3.Router`,
  customHeaderIpDetection: `${prefix}envoy.extensions.http.original_ip_detection.custom_header.v3.CustomHeaderConfig`,
  celAccessLogFilter: `${prefix}envoy.extensions.access_loggers.filters.cel.v3.ExpressionFilter`,
  stdoutAccessLog: `${prefix}envoy.extensions.access_loggers.stream.v3.StdoutAccessLog`,
  fileBasedMetadata: `${prefix}envoy.config.grpc_credential.v3.FileBasedMetadataConfig`,
  lua: `${prefix}envoy.extensions.filters.http.lua.v3.Lua`,
  luaPerRoute: `${prefix}envoy.extensions.filters.http.lua.v3.LuaPerRoute`,
} as const;

/** The xDS resource types Bulwark serves. */
export const XdsType = {
  Cluster: TypeUrl.cluster,
  Endpoints: TypeUrl.clusterLoadAssignment,
  Secret: TypeUrl.secret,
  Listener: TypeUrl.listener,
  Route: TypeUrl.routeConfiguration,
} as const;
export type XdsType = (typeof XdsType)[keyof typeof XdsType];

/**
 * Clusters and endpoints before the listeners and routes that use them, secrets before the
 * listeners whose TLS needs them: a sidecar never waits on a resource that comes later.
 */
export const pushOrder: readonly XdsType[] = [XdsType.Cluster, XdsType.Endpoints, XdsType.Secret, XdsType.Listener, XdsType.Route];

/** Types a sidecar requests as a whole (wildcard); the others it requests by name. */
export function isWildcardType(typeUrl: string): boolean {
  return typeUrl === XdsType.Cluster || typeUrl === XdsType.Listener;
}

export function shortTypeName(typeUrl: string): string {
  switch (typeUrl) {
    case XdsType.Cluster:
      return "CDS";
    case XdsType.Endpoints:
      return "EDS";
    case XdsType.Secret:
      return "SDS";
    case XdsType.Listener:
      return "LDS";
    case XdsType.Route:
      return "RDS";
    default:
      return typeUrl;
  }
}
