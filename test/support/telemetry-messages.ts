import { loadEnvoyProtos } from "../../envoy/proto/load.js";
import type protobuf from "protobufjs";

/**
 * StreamAccessLogsMessage bytes as a sidecar's http_grpc access logger sends them, encoded by
 * protobufjs with the Envoy protos: for the receiver's tests and the telemetry benchmark's load
 * generator.
 */

let type: protobuf.Type | undefined;

function messageType(): protobuf.Type {
  type ??= loadEnvoyProtos(["envoy/service/accesslog/v3/als.proto"]).lookupType("envoy.service.accesslog.v3.StreamAccessLogsMessage");
  return type;
}

export interface SampleRequest {
  route?: string;
  method?: string;
  path?: string;
  status?: number;
  details?: string;
  reason?: string;
  subject?: string;
  /** Verified JWT payload claims beyond sub (a realistic payload is a few hundred bytes). */
  claims?: Record<string, string>;
  device?: string;
  appVersion?: string;
  platform?: string;
  clientAddress?: string;
  startMs?: number;
  latencyMs?: number;
}

function duration(ms: number): { seconds: number; nanos: number } {
  return { seconds: Math.floor(ms / 1000), nanos: Math.round((ms % 1000) * 1e6) };
}

/** An HTTPAccessLogEntry in protobufjs's object form (well-known types with their camelCase fields). */
export function sampleEntry(r: SampleRequest): Record<string, unknown> {
  const tags: Record<string, string> = {};
  if (r.device) tags.device = r.device;
  if (r.appVersion) tags.app_version = r.appVersion;
  if (r.platform) tags.platform = r.platform;
  const payload = r.subject === undefined ? undefined : { ...r.claims, sub: r.subject };
  return {
    common_properties: {
      downstream_remote_address: { socket_address: { address: r.clientAddress ?? "203.0.113.7", port_value: 51234 } },
      start_time: duration(r.startMs ?? 1_796_000_000_000),
      time_to_last_downstream_tx_byte: duration(r.latencyMs ?? 3.25),
      route_name: r.route ?? "apisecuritypolicy/shop/shop-api/rule/orders",
      custom_tags: tags,
      ...(payload
        ? {
            metadata: {
              filter_metadata: {
                "envoy.filters.http.jwt_authn": {
                  fields: { jwt_payload: { structValue: { fields: Object.fromEntries(Object.entries(payload).map(([k, v]) => [k, { stringValue: v }])) } } },
                },
              },
            },
          }
        : {}),
    },
    request: { request_method: r.method ?? "GET", path: r.path ?? "/v1/orders/42?expand=items", request_headers_bytes: 412, request_body_bytes: 0 },
    response: {
      response_code: { value: r.status ?? 200 },
      response_code_details: r.details ?? "via_upstream",
      response_headers: r.reason ? { "x-bulwark-reason": r.reason } : {},
      response_headers_bytes: 120,
      response_body_bytes: 345,
    },
  };
}

/** One StreamAccessLogsMessage; the identifier only on a stream's first message, as Envoy sends it. */
export function accessLogMessage(options: { entries: Record<string, unknown>[]; logName?: string; node?: string }): Uint8Array {
  const t = messageType();
  return t
    .encode(
      t.fromObject({
        ...(options.logName !== undefined ? { identifier: { log_name: options.logName, node: { id: options.node ?? "shop-api-0.shop" } } } : {}),
        http_logs: { log_entry: options.entries },
      }),
    )
    .finish();
}
