import protobuf from "protobufjs";
import { isJsonObject, type JsonValue } from "../json.js";
import { messageTypeOf } from "./load.js";

/** A resource in proto3-JSON form that does not fit its message type; `path` locates the offending value. */
export class ProtoJsonError extends Error {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path || "(resource)"}: ${problem}`);
    this.name = "ProtoJsonError";
  }
}

/**
 * The protobufjs object form of a message (what `Type.fromObject` reads), from its proto3-JSON
 * form. protobufjs understands only Any's JSON mapping and ignores fields it does not know, so
 * this walks the message type: it converts the other well-known types (Duration, Timestamp,
 * wrappers, Struct, Value, ListValue, FieldMask), checks scalars and enum names, sorts map keys,
 * and refuses unknown fields and doubly-set oneofs with the path of the value.
 *
 * Any values keep their `@type` (with the contained message converted beside it) for the
 * protobufjs Any wrapper to encode.
 */
export function protobufObjectOf(type: protobuf.Type, json: JsonValue, path: string): unknown {
  const mapping = jsonMappingOf(type);
  if (mapping.kind === "special") return mapping.convert(json, path);
  if (mapping.kind === "wrapper") return { value: scalar(mapping.scalar, json, path) };
  return fieldsOf(type, json, path);
}

type JsonMapping =
  { kind: "special"; convert: (json: JsonValue, path: string) => Record<string, unknown>; nullable: boolean } | { kind: "wrapper"; scalar: string } | { kind: "message" };

/** protobufjs computes `fullName` on every read, so each type's JSON mapping is looked up once. */
const mappings = new WeakMap<protobuf.Type, JsonMapping>();

function jsonMappingOf(type: protobuf.Type): JsonMapping {
  let mapping = mappings.get(type);
  if (!mapping) {
    const name = type.fullName;
    const special = WELL_KNOWN[name];
    const wrapped = WRAPPER_SCALARS[name];
    mapping = special ? { kind: "special", convert: special, nullable: name === ".google.protobuf.Value" } : wrapped ? { kind: "wrapper", scalar: wrapped } : { kind: "message" };
    mappings.set(type, mapping);
  }
  return mapping;
}

/** An Any in proto3-JSON form (`{"@type": url, ...fields}`) as `{"@type": url, ...converted fields}`. */
export function anyObjectOf(json: JsonValue, path: string): { type: protobuf.Type; object: Record<string, unknown> } {
  if (!isJsonObject(json)) throw new ProtoJsonError(path, "expected an object with @type (google.protobuf.Any)");
  const { "@type": typeUrl, ...rest } = json;
  if (typeof typeUrl !== "string") throw new ProtoJsonError(fieldPath(path, "@type"), "missing: an Any needs the type URL of its message");
  const type = messageTypeOf(typeUrl);
  if (!type) throw new ProtoJsonError(fieldPath(path, "@type"), `unknown message type ${typeUrl}`);
  const mapping = jsonMappingOf(type);
  if (mapping.kind === "special" && mapping.convert === WELL_KNOWN[".google.protobuf.Any"]) throw new ProtoJsonError(path, "an Any inside an Any is not supported");
  // Well-known types with their own JSON mapping sit under "value" inside an Any.
  const inner = mapping.kind !== "message" ? (rest.value ?? null) : rest;
  const converted = protobufObjectOf(type, inner, path);
  return { type, object: { "@type": typeUrl, ...(converted as Record<string, unknown>) } };
}

/** `path.key`, or `path["key"]` when the key is not an identifier. */
export function fieldPath(path: string, key: string): string {
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) return path ? `${path}.${key}` : key;
  return `${path}[${JSON.stringify(key)}]`;
}

function fieldsOf(type: protobuf.Type, json: JsonValue, path: string): Record<string, unknown> {
  if (!isJsonObject(json)) throw new ProtoJsonError(path, `expected an object (${type.fullName.slice(1)})`);
  const out: Record<string, unknown> = {};
  const oneofs = new Map<string, string>();
  for (const key of Object.keys(json).sort()) {
    const value = json[key] ?? null;
    const at = fieldPath(path, key);
    const field = type.fields[key];
    if (!field) throw new ProtoJsonError(at, `unknown field of ${type.fullName.slice(1)}`);
    if (value === null && !acceptsNull(field)) continue;
    if (field.partOf) {
      const other = oneofs.get(field.partOf.name);
      if (other !== undefined) throw new ProtoJsonError(at, `${other} is already set: both belong to oneof ${field.partOf.name}`);
      oneofs.set(field.partOf.name, key);
    }
    out[key] = fieldValue(field, value, at);
  }
  return out;
}

/** JSON null is a value only for google.protobuf.Value and NullValue; elsewhere it means "not set". */
function acceptsNull(field: protobuf.Field): boolean {
  const type = field.resolvedType;
  if (type instanceof protobuf.Enum) return type.fullName === ".google.protobuf.NullValue";
  if (!(type instanceof protobuf.Type)) return false;
  const mapping = jsonMappingOf(type);
  return mapping.kind === "special" && mapping.nullable;
}

function fieldValue(field: protobuf.Field, value: JsonValue, path: string): unknown {
  if (field.map) {
    if (!isJsonObject(value)) throw new ProtoJsonError(path, "expected an object (map)");
    const keyType = field instanceof protobuf.MapField ? field.keyType : "string";
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      if (keyType !== "string") scalar(keyType, key, fieldPath(path, key));
      out[key] = singleValue(field, value[key] ?? null, fieldPath(path, key));
    }
    return out;
  }
  if (field.repeated) {
    if (!Array.isArray(value)) throw new ProtoJsonError(path, "expected an array (repeated field)");
    return value.map((item, i) => singleValue(field, item, `${path}[${i}]`));
  }
  return singleValue(field, value, path);
}

function singleValue(field: protobuf.Field, value: JsonValue, path: string): unknown {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) return protobufObjectOf(resolved, value, path);
  if (resolved instanceof protobuf.Enum) return enumValue(resolved, value, path);
  return scalar(field.type, value, path);
}

function enumValue(type: protobuf.Enum, value: JsonValue, path: string): string {
  if (value === null && type.fullName === ".google.protobuf.NullValue") return "NULL_VALUE";
  if (typeof value === "string" && type.values[value] !== undefined) return value;
  if (typeof value === "number" && type.valuesById[value] !== undefined) return type.valuesById[value];
  throw new ProtoJsonError(path, `${JSON.stringify(value)} is not a value of ${type.fullName.slice(1)} (${Object.keys(type.values).join(", ")})`);
}

const INT_RANGES: Record<string, [number, number]> = {
  int32: [-(2 ** 31), 2 ** 31 - 1],
  sint32: [-(2 ** 31), 2 ** 31 - 1],
  sfixed32: [-(2 ** 31), 2 ** 31 - 1],
  uint32: [0, 2 ** 32 - 1],
  fixed32: [0, 2 ** 32 - 1],
};
const LONGS = new Set(["int64", "sint64", "sfixed64", "uint64", "fixed64"]);

function scalar(type: string, value: JsonValue, path: string): unknown {
  const fail = (): never => {
    throw new ProtoJsonError(path, `${JSON.stringify(value)} is not a valid ${type}`);
  };
  const range = INT_RANGES[type];
  if (range) {
    const n = typeof value === "string" && /^-?\d+$/.test(value) ? Number(value) : value;
    if (typeof n !== "number" || !Number.isInteger(n) || n < range[0] || n > range[1]) return fail();
    return n;
  }
  if (LONGS.has(type)) {
    const text = typeof value === "number" && Number.isSafeInteger(value) ? String(value) : value;
    if (typeof text !== "string" || !(type.startsWith("u") || type === "fixed64" ? /^\d+$/ : /^-?\d+$/).test(text)) return fail();
    return text;
  }
  switch (type) {
    case "double":
    case "float":
      if (typeof value === "number" && Number.isFinite(value)) return value;
      if (value === "NaN" || value === "Infinity" || value === "-Infinity") return Number(value);
      return fail();
    case "bool":
      return typeof value === "boolean" ? value : fail();
    case "string":
      return typeof value === "string" ? value : fail();
    case "bytes":
      return typeof value === "string" && /^[A-Za-z0-9+/]*={0,2}$/.test(value) ? value : fail();
    default:
      throw new ProtoJsonError(path, `unsupported field type ${type}`);
  }
}

const WRAPPER_SCALARS: Record<string, string> = {
  ".google.protobuf.DoubleValue": "double",
  ".google.protobuf.FloatValue": "float",
  ".google.protobuf.Int64Value": "int64",
  ".google.protobuf.UInt64Value": "uint64",
  ".google.protobuf.Int32Value": "int32",
  ".google.protobuf.UInt32Value": "uint32",
  ".google.protobuf.BoolValue": "bool",
  ".google.protobuf.StringValue": "string",
  ".google.protobuf.BytesValue": "bytes",
};

/** `{seconds, nanos}` with zero parts left out, as protobufjs reads and writes them. */
function secondsAndNanos(seconds: number, nanos: number): Record<string, unknown> {
  return { ...(seconds !== 0 ? { seconds: String(seconds) } : {}), ...(nanos !== 0 ? { nanos } : {}) };
}

function duration(json: JsonValue, path: string): Record<string, unknown> {
  const match = typeof json === "string" ? /^(-)?(\d{1,12})(?:\.(\d{1,9}))?s$/.exec(json) : null;
  if (!match) throw new ProtoJsonError(path, `${JSON.stringify(json)} is not a duration such as "1.5s"`);
  const sign = match[1] ? -1 : 1;
  const seconds = Number(match[2]) * sign;
  const nanos = Number((match[3] ?? "").padEnd(9, "0")) * sign;
  return secondsAndNanos(seconds === 0 ? 0 : seconds, nanos === 0 ? 0 : nanos);
}

function timestamp(json: JsonValue, path: string): Record<string, unknown> {
  const match = typeof json === "string" ? /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(json) : null;
  const millis = match ? Date.parse(`${match[1]}${match[3]}`) : Number.NaN;
  if (!match || Number.isNaN(millis)) throw new ProtoJsonError(path, `${JSON.stringify(json)} is not an RFC 3339 timestamp`);
  return secondsAndNanos(millis / 1000, Number((match[2] ?? "").padEnd(9, "0")));
}

function struct(json: JsonValue, path: string): Record<string, unknown> {
  if (!isJsonObject(json)) throw new ProtoJsonError(path, "expected an object (google.protobuf.Struct)");
  const fields: Record<string, unknown> = {};
  for (const key of Object.keys(json).sort()) fields[key] = value(json[key] ?? null, fieldPath(path, key));
  return { fields };
}

function listValue(json: JsonValue, path: string): Record<string, unknown> {
  if (!Array.isArray(json)) throw new ProtoJsonError(path, "expected an array (google.protobuf.ListValue)");
  return { values: json.map((item, i) => value(item, `${path}[${i}]`)) };
}

function value(json: JsonValue, path: string): Record<string, unknown> {
  if (json === null) return { nullValue: "NULL_VALUE" };
  if (typeof json === "number") return { numberValue: json };
  if (typeof json === "string") return { stringValue: json };
  if (typeof json === "boolean") return { boolValue: json };
  if (Array.isArray(json)) return { listValue: listValue(json, path) };
  return { structValue: struct(json, path) };
}

function fieldMask(json: JsonValue, path: string): Record<string, unknown> {
  if (typeof json !== "string") throw new ProtoJsonError(path, "expected a comma-separated string (google.protobuf.FieldMask)");
  return { paths: json === "" ? [] : json.split(",").map((p) => p.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)) };
}

const WELL_KNOWN: Record<string, (json: JsonValue, path: string) => Record<string, unknown>> = {
  ".google.protobuf.Any": (json, path) => anyObjectOf(json, path).object,
  ".google.protobuf.Duration": duration,
  ".google.protobuf.Timestamp": timestamp,
  ".google.protobuf.Struct": struct,
  ".google.protobuf.Value": value,
  ".google.protobuf.ListValue": listValue,
  ".google.protobuf.FieldMask": fieldMask,
};
