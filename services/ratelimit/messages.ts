import type { ProtoStruct } from "../../envoy/xds/proto-struct.js";

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
