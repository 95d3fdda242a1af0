import { createHash } from "node:crypto";
import { isJsonObject, sortKeysDeep, type JsonObject } from "../json.js";
import { anyObjectOf, fieldPath, ProtoJsonError } from "./proto-json.js";

const TO_OBJECT_OPTIONS = { json: true, longs: String, enums: String, bytes: String, arrays: true, objects: true } as const;

/**
 * The protobuf encoding of one Envoy resource given in proto3-JSON form with its `@type`
 * (typed Any fields inside as `{"@type": ..., ...}`). Keys are sorted first, so the same
 * resource always gives the same bytes. Throws a ProtoJsonError naming the path of any field
 * the message type does not have, or of any value that did not survive encoding.
 */
export function encodeResource(resource: JsonObject): Buffer {
  const sorted = sortKeysDeep(resource);
  const { type, object } = anyObjectOf(sorted, "");
  const { "@type": _typeUrl, ...fields } = object;
  const bytes = type.encode(type.fromObject(fields)).finish();
  const decoded = type.toObject(type.decode(bytes), TO_OBJECT_OPTIONS);
  const lost = firstLoss(fields, decoded, "");
  if (lost !== undefined) throw new ProtoJsonError(lost, `did not survive protobuf encoding of ${type.fullName.slice(1)}`);
  return Buffer.from(bytes);
}

/** The version of an encoded resource: a prefix of its SHA-256, so identical bytes give an identical version. */
export function resourceVersion(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex").slice(0, 16);
}

function sameScalar(expected: unknown, actual: unknown): boolean {
  if (expected === actual) return true;
  if (typeof expected === "number" && typeof actual === "number") {
    return (Number.isNaN(expected) && Number.isNaN(actual)) || Math.fround(expected) === Math.fround(actual);
  }
  return false;
}

/**
 * The path of the first value of `expected` (what went into fromObject) that is missing from,
 * or different in, `actual` (what came back out of the bytes).
 */
function firstLoss(expected: unknown, actual: unknown, path: string): string | undefined {
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) return path;
    for (let i = 0; i < expected.length; i++) {
      const lost = firstLoss(expected[i], actual[i], `${path}[${i}]`);
      if (lost !== undefined) return lost;
    }
    return undefined;
  }
  if (isJsonObject(expected)) {
    if (!isJsonObject(actual)) return path;
    const have = actual as Record<string, unknown>;
    for (const [key, value] of Object.entries(expected as Record<string, unknown>)) {
      const at = fieldPath(path, key);
      if (!(key in have)) return at;
      const lost = firstLoss(value, have[key], at);
      if (lost !== undefined) return lost;
    }
    return undefined;
  }
  return sameScalar(expected, actual) ? undefined : path;
}
