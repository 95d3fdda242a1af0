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

/** google.protobuf.Timestamp and Duration, longs as numbers. */
export interface ProtoTime {
  seconds?: number;
  nanos?: number;
}

/** An envoy.data.accesslog.v3.HTTPAccessLogEntry: the fields bulwark ratelimit (outcomes) and bulwark telemetry read. */
export interface HttpAccessLogEntryMessage {
  common_properties?: {
    downstream_remote_address?: { socket_address?: { address?: string } };
    route_name?: string;
    metadata?: { filter_metadata?: Record<string, ProtoStruct> };
    start_time?: ProtoTime;
    time_to_last_downstream_tx_byte?: ProtoTime;
    custom_tags?: Record<string, string>;
  };
  request?: {
    /** The RequestMethod enum's name (GET, POST, ...). */
    request_method?: string;
    path?: string;
    request_headers?: Record<string, string>;
    request_headers_bytes?: number;
    request_body_bytes?: number;
  };
  response?: {
    response_code?: { value?: number };
    response_code_details?: string;
    response_headers?: Record<string, string>;
    response_headers_bytes?: number;
    response_body_bytes?: number;
  };
}

export interface StreamAccessLogsMessage {
  identifier?: { log_name?: string; node?: { id?: string } };
  http_logs?: { log_entry?: HttpAccessLogEntryMessage[] };
}
