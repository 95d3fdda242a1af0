import type protobuf from "protobufjs";
import { loadEnvoyProtos } from "../../envoy/proto/load.js";
import type { ProtoStruct } from "../../envoy/xds/proto-struct.js";
import { prunedSchema } from "./check-request-schema.js";

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
 * The fields of a CheckRequest bulwark authz reads (CheckRequestMessage, toAuthzRequest), by the
 * full name of their message type. The request is decoded with a copy of the Envoy types holding
 * only these (prunedSchema): the rest (destination, request time, id, protocol, TLS session, route
 * metadata, ...) is skipped, not decoded into objects nobody reads. The JWT payload (a Struct) is
 * read whole.
 */
const READ_FIELDS: Readonly<Record<string, readonly string[] | "all">> = {
  "envoy.service.auth.v3.CheckRequest": ["attributes"],
  "envoy.service.auth.v3.AttributeContext": ["source", "request", "context_extensions", "metadata_context"],
  "envoy.service.auth.v3.AttributeContext.Peer": ["address", "certificate"],
  "envoy.service.auth.v3.AttributeContext.Request": ["http"],
  "envoy.service.auth.v3.AttributeContext.HttpRequest": ["method", "headers", "path", "host", "scheme"],
  "envoy.config.core.v3.Address": ["socket_address"],
  "envoy.config.core.v3.SocketAddress": ["address"],
  "envoy.config.core.v3.Metadata": ["filter_metadata"],
  "google.protobuf.Struct": "all",
  "google.protobuf.Value": "all",
  "google.protobuf.ListValue": "all",
  "google.protobuf.NullValue": "all",
};

/**
 * The server side of envoy.service.auth.v3.Authorization/Check, with protobufjs (the Envoy API
 * protos): a CheckRequest is decoded into protobufjs's message objects and read as they are,
 * without the second pass that turns every field into plain objects, and only the fields the
 * checks read are decoded at all (READ_FIELDS). Responses are encoded from plain objects, as
 * @grpc/proto-loader does, with the full CheckResponse type. Served by services/grpc (node:http2).
 */
interface CheckTypes {
  request: protobuf.Type;
  response: protobuf.Type;
}

let types: CheckTypes | undefined;

function checkTypes(): CheckTypes {
  if (!types) {
    const root = loadEnvoyProtos(["envoy/service/auth/v3/external_auth.proto"]);
    types = {
      request: prunedSchema(root, READ_FIELDS).lookupType("envoy.service.auth.v3.CheckRequest"),
      response: root.lookupType("envoy.service.auth.v3.CheckResponse"),
    };
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
