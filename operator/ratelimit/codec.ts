import protobuf from "protobufjs/minimal.js";
import type { RateLimitRequestMessage, RateLimitResponseMessage } from "./protocol.js";

/**
 * The wire format of ShouldRateLimit, read and written by hand for the hot path: the fields
 * bulwark ratelimit uses go straight between bytes and plain objects, without the generic
 * message objects and conversions of @grpc/proto-loader (a third of the service's CPU went to
 * those and to the garbage they leave). Unknown fields are skipped, as protobuf requires.
 * Field numbers: envoy/service/ratelimit/v3/rls.proto and
 * envoy/extensions/common/ratelimit/v3/ratelimit.proto; protocol.test.ts checks both directions
 * against the proto-loader codec.
 */

const { Reader, Writer } = protobuf;
type ReaderT = protobuf.Reader;

const CODE_NUMBER = { UNKNOWN: 0, OK: 1, OVER_LIMIT: 2 } as const;

interface Entry {
  key: string;
  value: string;
}

function readEntry(r: ReaderT, end: number): Entry {
  let key = "";
  let value = "";
  while (r.pos < end) {
    const tag = r.uint32();
    switch (tag >>> 3) {
      case 1:
        key = r.string();
        break;
      case 2:
        value = r.string();
        break;
      default:
        r.skipType(tag & 7);
    }
  }
  return { key, value };
}

function readDescriptor(r: ReaderT, end: number): { entries: Entry[] } {
  const entries: Entry[] = [];
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag >>> 3 === 1 && (tag & 7) === 2) {
      const length = r.uint32();
      entries.push(readEntry(r, r.pos + length));
    } else r.skipType(tag & 7);
  }
  return { entries };
}

/** RateLimitRequest: domain (1), descriptors (2: entries (1: key 1, value 2)), hits_addend (3). */
export function decodeRateLimitRequest(bytes: Uint8Array): Required<RateLimitRequestMessage> & { descriptors: { entries: Entry[] }[] } {
  const r = Reader.create(bytes);
  let domain = "";
  let hitsAddend = 0;
  const descriptors: { entries: Entry[] }[] = [];
  while (r.pos < r.len) {
    const tag = r.uint32();
    switch (tag >>> 3) {
      case 1:
        domain = r.string();
        break;
      case 2: {
        const length = r.uint32();
        descriptors.push(readDescriptor(r, r.pos + length));
        break;
      }
      case 3:
        hitsAddend = r.uint32();
        break;
      default:
        r.skipType(tag & 7);
    }
  }
  return { domain, descriptors, hits_addend: hitsAddend };
}

/**
 * RateLimitResponse: overall_code (1), statuses (2: code 1, limit_remaining 3,
 * duration_until_reset 4), response_headers_to_add (3: key 1, value 2). Like protobufjs, a field
 * that is set is written even when it holds its default, so the bytes are the generic codec's.
 */
export function encodeRateLimitResponse(message: RateLimitResponseMessage): Buffer {
  const w = Writer.create();
  w.uint32((1 << 3) | 0).int32(CODE_NUMBER[message.overall_code]);
  for (const s of message.statuses) {
    w.uint32((2 << 3) | 2).fork();
    w.uint32((1 << 3) | 0).int32(CODE_NUMBER[s.code]);
    if (s.limit_remaining !== undefined) w.uint32((3 << 3) | 0).uint32(s.limit_remaining);
    if (s.duration_until_reset !== undefined) {
      w.uint32((4 << 3) | 2).fork();
      w.uint32((1 << 3) | 0).int64(s.duration_until_reset.seconds);
      w.ldelim();
    }
    w.ldelim();
  }
  for (const h of message.response_headers_to_add) {
    w.uint32((3 << 3) | 2).fork();
    w.uint32((1 << 3) | 2).string(h.key);
    w.uint32((2 << 3) | 2).string(h.value);
    w.ldelim();
  }
  const out = w.finish();
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}
