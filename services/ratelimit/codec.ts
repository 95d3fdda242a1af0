import type protobuf from "protobufjs";
import { loadEnvoyProtos } from "../../envoy/proto/load.js";
import type { RateLimitRequestMessage, RateLimitResponseMessage, StreamAccessLogsMessage } from "./messages.js";

/**
 * ShouldRateLimit's messages for the hot path, read and written by protobufjs with the types of
 * the Envoy API protos (envoy/service/ratelimit/v3/rls.proto), straight between bytes and the
 * message objects the service reads: no conversion to and from the generic objects of
 * @grpc/proto-loader (`toObject`/`fromObject` with options), which cost a third of the service's
 * CPU and most of its garbage. protocol.test.ts-style checks in codec.test.ts compare both
 * directions with the proto-loader codec.
 */

interface Codec {
  request: protobuf.Type;
  accessLogs: protobuf.Type;
  accessLogsResponse: protobuf.Type;
  response: protobuf.Type;
  /** RateLimitResponse.Code by name, from the proto's enum. */
  codes: Readonly<Record<string, number>>;
}

let codec: Codec | undefined;

function types(): Codec {
  if (codec) return codec;
  // Only the two services' files: the whole Envoy API would cost the process hundreds of MB.
  const root = loadEnvoyProtos(["envoy/service/ratelimit/v3/rls.proto", "envoy/service/accesslog/v3/als.proto"]);
  const response = root.lookupType("envoy.service.ratelimit.v3.RateLimitResponse");
  codec = {
    request: root.lookupType("envoy.service.ratelimit.v3.RateLimitRequest"),
    response,
    codes: response.lookupEnum("Code").values,
    accessLogs: root.lookupType("envoy.service.accesslog.v3.StreamAccessLogsMessage"),
    accessLogsResponse: root.lookupType("envoy.service.accesslog.v3.StreamAccessLogsResponse"),
  };
  return codec;
}

interface DecodedEntry {
  key: string;
  value: string;
}

interface DecodedRequest {
  domain: string;
  descriptors: { entries: DecodedEntry[] }[];
  hits_addend: number;
}

/** A RateLimitRequest with every field the service reads (protobufjs gives defaults for absent scalars). */
export function decodeRateLimitRequest(bytes: Uint8Array): Required<RateLimitRequestMessage> & { descriptors: { entries: DecodedEntry[] }[] } {
  const message = types().request.decode(bytes) as unknown as DecodedRequest;
  return {
    domain: message.domain,
    hits_addend: message.hits_addend,
    descriptors: message.descriptors.map((d) => ({ entries: d.entries.map((e) => ({ key: e.key, value: e.value })) })),
  };
}

/** A RateLimitResponse from the service's answer; enum names become the proto's numbers. */
export function encodeRateLimitResponse(message: RateLimitResponseMessage): Buffer {
  const { response, codes } = types();
  const code = (name: string): number => {
    const value = codes[name];
    if (value === undefined) throw new Error(`RateLimitResponse.Code has no ${name}`);
    return value;
  };
  // Plain objects in the shape protobufjs encodes; the header list is passed as it is ({key, value}).
  const statuses = new Array<{ code: number; limit_remaining?: number; duration_until_reset?: { seconds: number } }>(message.statuses.length);
  for (let i = 0; i < statuses.length; i++) {
    const s = message.statuses[i] as RateLimitResponseMessage["statuses"][number];
    const status: (typeof statuses)[number] = { code: code(s.code) };
    if (s.limit_remaining !== undefined) status.limit_remaining = s.limit_remaining;
    if (s.duration_until_reset !== undefined) status.duration_until_reset = s.duration_until_reset;
    statuses[i] = status;
  }
  const out = response.encode({ overall_code: code(message.overall_code), statuses, response_headers_to_add: message.response_headers_to_add }).finish();
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

/** protobufjs's toObject options that give the objects @grpc/proto-loader gives (what outcomeOf() reads). */
const PROTO_LOADER_SHAPE: protobuf.IConversionOptions = { longs: Number, enums: String, defaults: false, oneofs: true };

/** A StreamAccessLogsMessage (one batch of a sidecar's access log) as @grpc/proto-loader would give it. */
export function decodeStreamAccessLogs(bytes: Uint8Array): StreamAccessLogsMessage {
  const { accessLogs } = types();
  return accessLogs.toObject(accessLogs.decode(bytes), PROTO_LOADER_SHAPE);
}

/** The (empty) StreamAccessLogsResponse that ends an access-log stream. */
export function encodeStreamAccessLogsResponse(): Uint8Array {
  const { accessLogsResponse } = types();
  return accessLogsResponse.encode({}).finish();
}
