import type { ServiceDefinition } from "@grpc/grpc-js";
import { envoyGrpcService } from "../../envoy/xds/ads-protocol.js";

/** The messages as @grpc/proto-loader gives them (keepCase, oneofs, no defaults). */
export interface RateLimitRequestMessage {
  domain?: string;
  descriptors?: { entries?: { key?: string; value?: string }[] }[];
  hits_addend?: number;
}

export interface RateLimitResponseMessage {
  overall_code: "OK" | "OVER_LIMIT";
  statuses: { code: "OK" | "OVER_LIMIT"; limit_remaining?: number; duration_until_reset?: { seconds: number } }[];
  response_headers_to_add: { key: string; value: string }[];
}

/** google.protobuf.Value with oneofs: the set field is named by `kind`. */
export interface ProtoValue {
  kind?: string;
  nullValue?: string;
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: ProtoStruct;
  listValue?: { values?: ProtoValue[] };
  null_value?: string;
  number_value?: number;
  string_value?: string;
  bool_value?: boolean;
  struct_value?: ProtoStruct;
  list_value?: { values?: ProtoValue[] };
}

export interface ProtoStruct {
  fields?: Record<string, ProtoValue>;
}

export interface HttpAccessLogEntryMessage {
  common_properties?: {
    downstream_remote_address?: { socket_address?: { address?: string } };
    route_name?: string;
    metadata?: { filter_metadata?: Record<string, ProtoStruct> };
  };
  request?: { path?: string; request_headers?: Record<string, string> };
  response?: { response_code?: { value?: number } };
}

export interface StreamAccessLogsMessage {
  identifier?: { log_name?: string; node?: { id?: string } };
  http_logs?: { log_entry?: HttpAccessLogEntryMessage[] };
}

/** RateLimitService and AccessLogService, loaded once from the Envoy API protos. */
export function ratelimitServices(): { rateLimit: ServiceDefinition; accessLog: ServiceDefinition } {
  return {
    rateLimit: envoyGrpcService("envoy/service/ratelimit/v3/rls.proto", "envoy.service.ratelimit.v3.RateLimitService", { longs: Number }),
    accessLog: envoyGrpcService("envoy/service/accesslog/v3/als.proto", "envoy.service.accesslog.v3.AccessLogService", { longs: Number }),
  };
}

/** A google.protobuf.Struct as plain JSON values. */
export function structToJson(struct: ProtoStruct | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(struct?.fields ?? {})) out[key] = valueToJson(value);
  return out;
}

function valueToJson(value: ProtoValue): unknown {
  switch (value.kind) {
    case "stringValue":
    case "string_value":
      return value.stringValue ?? value.string_value;
    case "numberValue":
    case "number_value":
      return value.numberValue ?? value.number_value;
    case "boolValue":
    case "bool_value":
      return value.boolValue ?? value.bool_value;
    case "structValue":
    case "struct_value":
      return structToJson(value.structValue ?? value.struct_value);
    case "listValue":
    case "list_value":
      return (value.listValue ?? value.list_value)?.values?.map(valueToJson) ?? [];
    default:
      return null;
  }
}
