import type { JsonObject } from "../../json.js";
import { grpcServiceCluster, type UpstreamCluster } from "../clusters.js";
import type { FilterContext } from "./feature.js";
import { NAMES } from "../resources.js";
import { REASON_HEADER } from "../../../contract/wire.js";
import { TELEMETRY_LOG_PREFIX, TelemetryTag } from "../../../contract/telemetry.js";
import type { TelemetrySettings } from "../../../contract/ir.js";
import { googleGrpcService } from "../../google-grpc.js";

/**
 * The telemetry stream (spec.telemetry): every finished request of the workload, whatever answered
 * it (the app, the default-deny 404, jwt_authn, RBAC, ext_authz, a rate limit), streamed by the
 * connection manager to bulwark telemetry over gRPC (`envoy.access_loggers.http_grpc` →
 * AccessLogService/StreamAccessLogs, log name TELEMETRY_LOG_PREFIX + the workload's IR name).
 *
 * The logger runs after the response is sent, and entries are buffered per worker thread and
 * flushed when 16 KiB are waiting or after a second, so a request never waits on the receiver;
 * while the receiver is unreachable Envoy drops entries (the stream is not a source of truth for
 * enforcement). Each entry carries the request headers that say who is calling (device, app
 * version, platform) as custom tags of fixed names (TelemetryTag), so the receiver needs no
 * policy to read them, and the response's reason header, which the sidecar's own refusals and
 * bulwark authz's denials set. The route name, status, response code details, dynamic metadata
 * (the verified JWT payload), addresses, timings and byte counts are in every entry anyway.
 *
 * With the receiver's TLS in the settings (as the chart installs it), the logger reaches it with
 * Envoy's Google gRPC client over TLS and presents the pod's projected token of the telemetry
 * audience on every stream (envoy/google-grpc.ts), and there is no telemetry cluster; the receiver
 * binds the stream to that pod. Without it, a plaintext cluster (a receiver that authenticates nobody).
 */

const HTTP_GRPC_ACCESS_LOG = "type.googleapis.com/envoy.extensions.access_loggers.grpc.v3.HttpGrpcAccessLogConfig";
/** Flush when this much is waiting, or after TELEMETRY_FLUSH_INTERVAL, whichever comes first. */
export const TELEMETRY_BUFFER_BYTES = 16 * 1024;
export const TELEMETRY_FLUSH_INTERVAL = "1s";

/** Whether this sidecar streams telemetry: its policy asks for it and the installation has a receiver. */
function streams(ctx: FilterContext): boolean {
  return ctx.workload.telemetry !== undefined && ctx.settings.telemetry !== undefined;
}

/** A custom tag with a request header's value (absent from the entry when the request has no such header). */
function headerTag(tag: string, header: string): JsonObject {
  return { tag, request_header: { name: header } };
}

/** The receiver over TLS with the pod's token when the settings carry its CA, else the plaintext cluster. */
function grpcService(telemetry: TelemetrySettings | undefined): JsonObject {
  if (!telemetry?.tls) {
    if (telemetry?.tokenFile) throw new Error("a token is sent to bulwark telemetry only over TLS: set settings.telemetry.tls");
    return { envoy_grpc: { cluster_name: NAMES.telemetryCluster } };
  }
  return googleGrpcService({
    host: telemetry.host,
    port: telemetry.port,
    tls: telemetry.tls,
    ...(telemetry.tokenFile ? { tokenFile: telemetry.tokenFile } : {}),
    statPrefix: "bulwark_telemetry",
  }) as JsonObject;
}

/** The connection manager's `access_log` entry that streams every request to bulwark telemetry, when the workload has one. */
export function buildTelemetryAccessLog(ctx: FilterContext): JsonObject[] {
  const telemetry = ctx.workload.telemetry;
  if (!telemetry || !streams(ctx)) return [];
  const tags = [
    ...(telemetry.deviceHeader ? [headerTag(TelemetryTag.device, telemetry.deviceHeader)] : []),
    headerTag(TelemetryTag.appVersion, telemetry.appVersionHeader),
    headerTag(TelemetryTag.platform, telemetry.platformHeader),
  ];
  return [
    {
      name: "envoy.access_loggers.http_grpc",
      typed_config: {
        "@type": HTTP_GRPC_ACCESS_LOG,
        common_config: {
          log_name: `${TELEMETRY_LOG_PREFIX}${ctx.workload.name}`,
          grpc_service: grpcService(ctx.settings.telemetry),
          transport_api_version: "V3",
          buffer_size_bytes: TELEMETRY_BUFFER_BYTES,
          buffer_flush_interval: TELEMETRY_FLUSH_INTERVAL,
          custom_tags: tags,
        },
        additional_response_headers_to_log: [REASON_HEADER],
      },
    },
  ];
}

/** The cluster the telemetry logger streams to: none over TLS (the Google gRPC client connects by itself). */
export function telemetryClusters(ctx: FilterContext): UpstreamCluster[] {
  const telemetry = ctx.settings.telemetry;
  return telemetry && !telemetry.tls && streams(ctx) ? [grpcServiceCluster(NAMES.telemetryCluster, { host: telemetry.host, port: telemetry.port })] : [];
}
