import { TELEMETRY_LOG_PREFIX, TelemetryTag, type TelemetryEntry } from "../../contract/telemetry.js";
import { JWT_AUTHN_FILTER, JWT_PAYLOAD_KEY, REASON_HEADER } from "../../contract/wire.js";
import type { HttpAccessLogEntryMessage, ProtoTime } from "../ratelimit/messages.js";
import { valueToJson, type ProtoStruct } from "../../envoy/xds/proto-struct.js";

/**
 * One sidecar access-log entry (envoy/build/filters/telemetry-log.ts) as a TelemetryEntry. Pure.
 *
 * A sidecar is trusted to say what it saw, not to be well-formed: every string is cut to a
 * stated length, so a broken or hostile sidecar cannot make the sinks hold megabytes per entry.
 */

/** Longest kept length of each string field, in UTF-16 code units. */
export const FIELD_LIMITS = {
  workload: 256,
  route: 256,
  method: 16,
  path: 1024,
  reason: 256,
  subject: 256,
  header: 128,
  clientAddress: 64,
} as const;

/** What Envoy's response code details say when the app answered: not a refusal. */
const FROM_THE_APP = "via_upstream";

function cut(value: string, limit: number): string {
  return value.length > limit ? value.slice(0, limit) : value;
}

function milliseconds(time: ProtoTime | undefined): number {
  if (!time) return 0;
  return (time.seconds ?? 0) * 1000 + (time.nanos ?? 0) / 1e6;
}

/** The path without its query string (nor a fragment, which a client should not send). */
function pathOnly(path: string): string {
  const end = path.search(/[?#]/);
  return end < 0 ? path : path.slice(0, end);
}

/** The verified JWT payload (jwt_authn's dynamic metadata) when there was one; only its `sub` is read. */
function verifiedSubject(metadata: Record<string, ProtoStruct> | undefined): { authenticated: boolean; subject?: string } {
  const jwt = metadata?.[JWT_AUTHN_FILTER]?.fields?.[JWT_PAYLOAD_KEY];
  if (!jwt) return { authenticated: false };
  const payload = jwt.structValue ?? jwt.struct_value;
  const sub = valueToJson(payload?.fields?.sub);
  return typeof sub === "string" ? { authenticated: true, subject: cut(sub, FIELD_LIMITS.subject) } : { authenticated: true };
}

function tag(tags: Record<string, string> | undefined, name: string): string | undefined {
  const value = tags?.[name];
  return value === undefined || value === "" ? undefined : cut(value, FIELD_LIMITS.header);
}

/** Why the request was refused: the reason header (sidecar refusals, authz denials), else Envoy's details unless the app answered. */
function reasonOf(response: HttpAccessLogEntryMessage["response"]): string | undefined {
  const stated = response?.response_headers?.[REASON_HEADER];
  if (stated) return cut(stated, FIELD_LIMITS.reason);
  const details = response?.response_code_details;
  return details && details !== FROM_THE_APP ? cut(details, FIELD_LIMITS.reason) : undefined;
}

/** The workload a log name stands for, or undefined when it is not a telemetry log. */
export function workloadOfLogName(logName: string | undefined): string | undefined {
  if (!logName?.startsWith(TELEMETRY_LOG_PREFIX)) return undefined;
  const workload = logName.slice(TELEMETRY_LOG_PREFIX.length);
  return workload === "" ? undefined : cut(workload, FIELD_LIMITS.workload);
}

/** The identity tags present (the sidecar copies the policy's headers into them). */
function identityOf(tags: Record<string, string> | undefined): Pick<TelemetryEntry, "device" | "appVersion" | "platform"> {
  const out: Pick<TelemetryEntry, "device" | "appVersion" | "platform"> = {};
  const device = tag(tags, TelemetryTag.device);
  const appVersion = tag(tags, TelemetryTag.appVersion);
  const platform = tag(tags, TelemetryTag.platform);
  if (device !== undefined) out.device = device;
  if (appVersion !== undefined) out.appVersion = appVersion;
  if (platform !== undefined) out.platform = platform;
  return out;
}

function methodOf(method: string | undefined): string {
  return method && method !== "METHOD_UNSPECIFIED" ? cut(method, FIELD_LIMITS.method) : "";
}

/** Request and response sizes, headers included. */
function bytesOf(entry: HttpAccessLogEntryMessage): Pick<TelemetryEntry, "requestBytes" | "responseBytes"> {
  const request = entry.request;
  const response = entry.response;
  return {
    requestBytes: (request?.request_headers_bytes ?? 0) + (request?.request_body_bytes ?? 0),
    responseBytes: (response?.response_headers_bytes ?? 0) + (response?.response_body_bytes ?? 0),
  };
}

/** The entry of a request `workload`'s sidecar finished. */
export function telemetryEntryOf(workload: string, entry: HttpAccessLogEntryMessage): TelemetryEntry {
  const common = entry.common_properties ?? {};
  const reason = reasonOf(entry.response);
  return {
    workload,
    route: cut(common.route_name ?? "", FIELD_LIMITS.route),
    method: methodOf(entry.request?.request_method),
    path: cut(pathOnly(entry.request?.path ?? ""), FIELD_LIMITS.path),
    status: entry.response?.response_code?.value ?? 0,
    ...(reason !== undefined ? { reason } : {}),
    ...verifiedSubject(common.metadata?.filter_metadata),
    ...identityOf(common.custom_tags),
    clientAddress: cut(common.downstream_remote_address?.socket_address?.address ?? "", FIELD_LIMITS.clientAddress),
    timeMs: Math.round(milliseconds(common.start_time)),
    latencyMs: milliseconds(common.time_to_last_downstream_tx_byte),
    ...bytesOf(entry),
  };
}
