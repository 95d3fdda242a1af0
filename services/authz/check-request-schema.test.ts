import protobuf from "protobufjs";
import { describe, expect, it } from "vitest";
import { loadEnvoyProtos } from "../../envoy/proto/load.js";
import { prunedSchema } from "./check-request-schema.js";

const root = loadEnvoyProtos(["envoy/service/auth/v3/external_auth.proto"]);
const full = root.lookupType("envoy.service.auth.v3.CheckRequest");
const keep = {
  "envoy.service.auth.v3.CheckRequest": ["attributes"],
  "envoy.service.auth.v3.AttributeContext": ["request", "context_extensions"],
  "envoy.service.auth.v3.AttributeContext.Request": ["http"],
  "envoy.service.auth.v3.AttributeContext.HttpRequest": ["method", "headers"],
} as const;

describe("prunedSchema", () => {
  const pruned = prunedSchema(root, keep);

  it("keeps the named fields with the Envoy protos' numbers and types, and no others", () => {
    for (const [name, fields] of Object.entries(keep)) {
      const copy = pruned.lookupType(name);
      const original = root.lookupType(name);
      expect(Object.keys(copy.fields).sort()).toEqual([...fields].sort());
      for (const field of fields) {
        expect(copy.fields[field]?.id).toBe(original.fields[field]?.id);
        expect(copy.fields[field]?.resolvedType?.fullName ?? copy.fields[field]?.type).toBe(original.fields[field]?.resolvedType?.fullName ?? original.fields[field]?.type);
      }
    }
    expect(pruned.lookupType("envoy.service.auth.v3.AttributeContext.HttpRequest").fields.headers).toBeInstanceOf(protobuf.MapField);
  });

  it("decodes the kept fields as the full type does and skips the rest", () => {
    const bytes = full
      .encode(
        full.fromObject({
          attributes: {
            source: { address: { socket_address: { address: "10.0.0.7", port_value: 41000 } }, principal: "spiffe://x" },
            destination: { address: { socket_address: { address: "127.0.0.1", port_value: 15006 } } },
            request: { time: { seconds: 1796300000, nanos: 5 }, http: { id: "7", method: "POST", path: "/p", protocol: "HTTP/2", headers: { a: "1", b: "2" }, body: "x" } },
            context_extensions: { r: "route" },
            tls_session: { sni: "shop.test" },
          },
        }),
      )
      .finish();
    const decoded = pruned.lookupType("envoy.service.auth.v3.CheckRequest").toObject(pruned.lookupType("envoy.service.auth.v3.CheckRequest").decode(bytes));
    expect(decoded).toEqual({ attributes: { request: { http: { method: "POST", headers: { a: "1", b: "2" } } }, context_extensions: { r: "route" } } });
  });

  it("still refuses a skipped field whose length runs past the message", () => {
    const type = pruned.lookupType("envoy.service.auth.v3.AttributeContext");
    // Field 2 (destination, not kept), length 200, 1 byte of content.
    expect(() => type.decode(Uint8Array.from([0x12, 0xc8, 0x01, 0x00]))).toThrow();
  });

  it("throws when a kept field or type is not in the protos, or a kept field's type is not kept", () => {
    expect(() => prunedSchema(root, { "envoy.service.auth.v3.CheckRequest": ["nope"] })).toThrow(/no field nope/);
    expect(() => prunedSchema(root, { "envoy.service.auth.v3.Nope": ["x"] })).toThrow();
    expect(() => prunedSchema(root, { "envoy.service.auth.v3.CheckRequest": ["attributes"] })).toThrow();
  });
});
