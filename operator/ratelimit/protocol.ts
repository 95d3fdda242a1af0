import type { ServiceDefinition } from "@grpc/grpc-js";
import { envoyGrpcService } from "../../envoy/xds/ads-protocol.js";
import type { ProtoStruct } from "../../envoy/xds/proto-struct.js";
import { decodeRateLimitRequest, encodeRateLimitResponse } from "./codec.js";

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

let services: { rateLimit: ServiceDefinition; accessLog: ServiceDefinition } | undefined;

/**
 * RateLimitService and AccessLogService, loaded once from the Envoy API protos. The server's side
 * of ShouldRateLimit (reading requests, writing responses) uses the protobufjs codec of
 * codec.ts; clients use the generic one.
 */
export function ratelimitServices(): { rateLimit: ServiceDefinition; accessLog: ServiceDefinition } {
  if (services) return services;
  const generic = envoyGrpcService("envoy/service/ratelimit/v3/rls.proto", "envoy.service.ratelimit.v3.RateLimitService", { longs: Number });
  const method = generic.ShouldRateLimit;
  if (!method) throw new Error("rls.proto has no ShouldRateLimit");
  services = {
    rateLimit: { ...generic, ShouldRateLimit: { ...method, requestDeserialize: decodeRateLimitRequest, responseSerialize: encodeRateLimitResponse } },
    accessLog: envoyGrpcService("envoy/service/accesslog/v3/als.proto", "envoy.service.accesslog.v3.AccessLogService", { longs: Number }),
  };
  return services;
}

/** The ShouldRateLimit codec of @grpc/proto-loader (what codec.ts is checked against). */
export function genericRateLimitService(): ServiceDefinition {
  return envoyGrpcService("envoy/service/ratelimit/v3/rls.proto", "envoy.service.ratelimit.v3.RateLimitService", { longs: Number });
}
