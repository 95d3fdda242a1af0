import type { ServiceDefinition } from "@grpc/grpc-js";
import { decodeRateLimitRequest, encodeRateLimitResponse } from "./codec.js";
import { envoyGrpcService } from "../../envoy/proto/grpc-service.js";

export type { HttpAccessLogEntryMessage, RateLimitRequestMessage, RateLimitResponseMessage, StreamAccessLogsMessage } from "./messages.js";

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
