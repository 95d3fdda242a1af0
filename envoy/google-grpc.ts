/**
 * A gRPC service reached with Envoy's Google gRPC client over TLS, presenting the pod's projected
 * ServiceAccount token: the plugin `envoy.grpc_credentials.file_based_metadata` reads the token
 * file again for every stream, so the kubelet's rotation of the file is picked up (the Envoy gRPC
 * client has only static initial metadata, which a rotated token would leave stale). Used by the
 * sidecar's ADS service (bootstrap) and its telemetry access logger.
 */
import { TypeUrl } from "./type-urls.js";

export interface GoogleGrpcTarget {
  host: string;
  port: number;
  /** The CA (PEM) the server's certificate must chain to; the certificate must name `serverName` (default `host`). */
  tls: { caPem: string; serverName?: string };
  /** The token file sent as `authorization: Bearer <token>` on every stream; absent: no token. */
  tokenFile?: string;
  /** Envoy's stats of this client: `cluster.<stat_prefix>...`. */
  statPrefix: string;
  /** Further gRPC channel arguments (keepalive). */
  channelArgs?: Record<string, { string_value?: string; int_value?: string }>;
}

const FILE_BASED_METADATA = "envoy.grpc_credentials.file_based_metadata";

/** The `google_grpc` of an envoy.config.core.v3.GrpcService. */
export function googleGrpcService(target: GoogleGrpcTarget): Record<string, unknown> {
  const serverName = target.tls.serverName ?? target.host;
  const uri = target.host.includes(":") ? `[${target.host}]:${target.port}` : `${target.host}:${target.port}`;
  const channelArgs = {
    ...target.channelArgs,
    ...(serverName !== target.host ? { "grpc.ssl_target_name_override": { string_value: serverName } } : {}),
  };
  return {
    google_grpc: {
      target_uri: uri,
      stat_prefix: target.statPrefix,
      channel_credentials: { ssl_credentials: { root_certs: { inline_string: target.tls.caPem } } },
      ...(target.tokenFile
        ? {
            credentials_factory_name: FILE_BASED_METADATA,
            call_credentials: [
              {
                from_plugin: {
                  name: FILE_BASED_METADATA,
                  typed_config: {
                    "@type": TypeUrl.fileBasedMetadata,
                    secret_data: { filename: target.tokenFile },
                    header_key: "authorization",
                    header_prefix: "Bearer ",
                  },
                },
              },
            ],
          }
        : {}),
      ...(Object.keys(channelArgs).length > 0 ? { channel_args: { args: channelArgs } } : {}),
    },
  };
}
