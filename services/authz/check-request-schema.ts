import protobuf from "protobufjs";

/**
 * A copy of Envoy API message types (protobufjs) keeping only some of their fields, with the same
 * names, field numbers and types: decoding with it reads those fields exactly as the full type
 * would and skips the others (protobufjs skips fields a type does not declare, checking their
 * lengths). For a reader that uses a few fields of a large message, e.g. bulwark authz and the
 * CheckRequest, whose addresses, timestamps and other attributes it never reads.
 *
 * `keep` maps a message's full name (without the leading dot) to the fields kept, or to "all" for
 * a type copied whole (its nested types and oneofs too: google.protobuf.Value). A kept field of
 * message type names a type that must be kept too; a name that is not in `source` throws, so a
 * change of the protos is noticed when the schema is built, not when a request is read.
 */
export function prunedSchema(source: protobuf.Root, keep: Readonly<Record<string, readonly string[] | "all">>): protobuf.Root {
  const pruned = new protobuf.Root();
  // Parents before their nested types: a.b.C before a.b.C.D.
  const names = Object.keys(keep).sort((a, b) => a.split(".").length - b.split(".").length || a.localeCompare(b));
  for (const fullName of names) {
    const original: protobuf.ReflectionObject = source.lookupTypeOrEnum(fullName);
    const kept = keep[fullName] ?? [];
    const parentName = fullName.slice(0, fullName.lastIndexOf("."));
    const parent = pruned.lookup(parentName) ?? pruned.define(parentName);
    if (!(parent instanceof protobuf.Namespace)) throw new Error(`${parentName} cannot hold ${fullName}`);
    if (original instanceof protobuf.Enum) {
      parent.add(protobuf.Enum.fromJSON(original.name, original.toJSON()));
      continue;
    }
    if (kept === "all" && original instanceof protobuf.Type) {
      parent.add(protobuf.Type.fromJSON(original.name, original.toJSON()));
      continue;
    }
    if (!(original instanceof protobuf.Type)) throw new Error(`${fullName} is not a message type`);
    const type = new protobuf.Type(original.name);
    for (const name of kept === "all" ? [] : kept) {
      const field = original.fields[name];
      if (!field) throw new Error(`${fullName} has no field ${name}`);
      field.resolve();
      // Message and enum fields name their type in full, so they resolve in the copy as in the source.
      const typeName = field.resolvedType ? field.resolvedType.fullName : field.type;
      type.add(
        field instanceof protobuf.MapField
          ? new protobuf.MapField(name, field.id, field.keyType, typeName)
          : new protobuf.Field(name, field.id, typeName, field.repeated ? "repeated" : undefined),
      );
    }
    parent.add(type);
  }
  pruned.resolveAll();
  return pruned;
}
