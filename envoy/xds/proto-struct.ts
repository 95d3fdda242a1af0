/**
 * google.protobuf.Value as @grpc/proto-loader decodes it (oneofs: true): the set field is named
 * by `kind`. protobufjs ships its own copy of the well-known types with camelCase field names,
 * whatever keepCase says, so both spellings are read.
 */
export interface ProtoValue {
  kind?: string;
  nullValue?: string;
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: ProtoStruct;
  listValue?: { values?: ProtoValue[] };
  null_value?: string;
  number_value?: number;
  string_value?: string;
  bool_value?: boolean;
  struct_value?: ProtoStruct;
  list_value?: { values?: ProtoValue[] };
}

export interface ProtoStruct {
  fields?: Record<string, ProtoValue>;
}

/** A google.protobuf.Value as a plain JSON value. */
export function valueToJson(value: ProtoValue | undefined): unknown {
  switch (value?.kind) {
    case "numberValue":
    case "number_value":
      return value.numberValue ?? value.number_value;
    case "stringValue":
    case "string_value":
      return value.stringValue ?? value.string_value;
    case "boolValue":
    case "bool_value":
      return value.boolValue ?? value.bool_value;
    case "structValue":
    case "struct_value":
      return structToJson(value.structValue ?? value.struct_value);
    case "listValue":
    case "list_value":
      return ((value.listValue ?? value.list_value)?.values ?? []).map(valueToJson);
    default:
      return null;
  }
}

/** A google.protobuf.Struct as plain JSON values (e.g. Envoy's dynamic metadata). */
export function structToJson(struct: ProtoStruct | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(struct?.fields ?? {})) out[key] = valueToJson(value);
  return out;
}
