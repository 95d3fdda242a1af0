import type protobuf from "protobufjs";
import { loadEnvoyProtos } from "../../envoy/proto/load.js";
import type { ProtoStruct } from "../../envoy/xds/proto-struct.js";

/** The part of a CheckRequest bulwark authz reads (protobufjs messages: absent messages are null). */
export interface CheckRequestMessage {
  attributes?: {
    source?: { certificate?: string; address?: { socket_address?: { address?: string } | null } | null } | null;
    request?: { http?: { method?: string; headers?: Record<string, string>; path?: string; host?: string; scheme?: string } | null } | null;
    context_extensions?: Record<string, string>;
    metadata_context?: { filter_metadata?: Record<string, ProtoStruct> } | null;
  } | null;
}

/**
 * The server side of envoy.service.auth.v3.Authorization/Check, with protobufjs (the Envoy API
 * protos): a CheckRequest is decoded into protobufjs's message objects and read as they are,
 * without the second pass that turns every field (addresses, timestamps, all the headers) into
 * plain objects. Only the fields the checks read are ever touched (toAuthzRequest). Responses are
 * encoded from plain objects, as @grpc/proto-loader does. Served by services/grpc (node:http2).
 */
interface CheckTypes {
  request: protobuf.Type;
  response: protobuf.Type;
}

let types: CheckTypes | undefined;

function checkTypes(): CheckTypes {
  if (!types) {
    const root = loadEnvoyProtos(["envoy/service/auth/v3/external_auth.proto"]);
    types = { request: root.lookupType("envoy.service.auth.v3.CheckRequest"), response: root.lookupType("envoy.service.auth.v3.CheckResponse") };
  }
  return types;
}

export const CHECK_PATH = "/envoy.service.auth.v3.Authorization/Check";

/**
 * A CheckRequest as protobufjs decodes it: absent messages read as null, absent strings as ""
 * (not undefined: test for emptiness, not with ??), maps as objects.
 */
export function decodeCheckRequest(bytes: Uint8Array): CheckRequestMessage {
  return checkTypes().request.decode(bytes) as unknown as CheckRequestMessage;
}

/** A CheckResponse given as a plain object (field names as in the proto, enums by name or number). */
export function encodeCheckResponse(value: unknown): Buffer {
  const { response } = checkTypes();
  const bytes = response.encode(response.fromObject(value as Record<string, unknown>)).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
