import { describe, expect, it } from "vitest";
import type { JsonObject } from "../json.js";
import { encodeResource, resourceVersion } from "./encode.js";
import { envoyProtoRoot } from "./load.js";
import { ProtoJsonError } from "./proto-json.js";

const ROUTER = { name: "envoy.filters.http.router", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" } };

function listener(httpFilters: JsonObject[] = [ROUTER]): JsonObject {
  return {
    "@type": "type.googleapis.com/envoy.config.listener.v3.Listener",
    name: "inbound",
    address: { socket_address: { address: "0.0.0.0", port_value: 8080 } },
    filter_chains: [
      {
        filters: [
          {
            name: "envoy.filters.network.http_connection_manager",
            typed_config: {
              "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
              stat_prefix: "inbound",
              rds: { route_config_name: "inbound", config_source: { ads: {}, resource_api_version: "V3" } },
              http_filters: httpFilters,
            },
          },
        ],
      },
    ],
  };
}

function routeConfig(perFilter: JsonObject): JsonObject {
  return {
    "@type": "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
    name: "inbound",
    virtual_hosts: [{ name: "inbound", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: "app" }, typed_per_filter_config: perFilter }] }],
  };
}

function decode(typeName: string, bytes: Buffer): Record<string, unknown> {
  const type = envoyProtoRoot().lookupType(typeName);
  return type.toObject(type.decode(bytes), { longs: String, enums: String, json: true });
}

function refusal(resource: JsonObject): ProtoJsonError {
  try {
    encodeResource(resource);
  } catch (error) {
    if (error instanceof ProtoJsonError) return error;
    throw error;
  }
  throw new Error("the resource was encoded");
}

describe("encodeResource", () => {
  it("encodes a resource with typed Any fields to protobuf that decodes to the same values", () => {
    const bytes = encodeResource(listener());
    const decoded = decode("envoy.config.listener.v3.Listener", bytes);
    expect(decoded.name).toBe("inbound");
    expect(decoded.address).toEqual({ socket_address: { address: "0.0.0.0", port_value: 8080 } });
    const hcm = (decoded.filter_chains as { filters: { typed_config: Record<string, unknown> }[] }[])[0]?.filters[0]?.typed_config;
    expect(hcm?.["@type"]).toBe("type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager");
    expect(hcm?.rds).toEqual({ route_config_name: "inbound", config_source: { ads: {}, resource_api_version: "V3" } });
  });

  it("gives identical bytes and version for the same input, whatever the order of its keys", () => {
    const a = encodeResource(
      routeConfig({
        "b.filter": { "@type": "type.googleapis.com/envoy.extensions.filters.http.buffer.v3.BufferPerRoute", disabled: true },
        "a.filter": { "@type": "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute", disabled: true },
      }),
    );
    const b = encodeResource(
      routeConfig({
        "a.filter": { disabled: true, "@type": "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute" },
        "b.filter": { "@type": "type.googleapis.com/envoy.extensions.filters.http.buffer.v3.BufferPerRoute", disabled: true },
      }),
    );
    expect(b.equals(a)).toBe(true);
    expect(resourceVersion(b)).toBe(resourceVersion(a));
    expect(resourceVersion(a)).toMatch(/^[0-9a-f]{16}$/);
  });

  it("gives another version when the content changes", () => {
    const a = encodeResource(listener());
    const b = encodeResource({ ...listener(), name: "inbound-2" });
    expect(resourceVersion(b)).not.toBe(resourceVersion(a));
  });

  it("refuses an unknown field deep inside typed Any values, naming its path", () => {
    const error = refusal(listener([{ ...ROUTER, typed_config: { ...ROUTER.typed_config, suppress_envoy_headerz: true } }]));
    expect(error.path).toBe("filter_chains[0].filters[0].typed_config.http_filters[0].typed_config.suppress_envoy_headerz");
    expect(error.message).toContain("unknown field of envoy.extensions.filters.http.router.v3.Router");
  });

  it("refuses an unknown top-level field and a camelCase spelling", () => {
    expect(refusal({ ...listener(), colour: "blue" }).path).toBe("colour");
    expect(refusal({ ...listener(), filterChains: [] }).path).toBe("filterChains");
  });

  it("refuses an unknown field inside a map value, naming the key", () => {
    const error = refusal(routeConfig({ "envoy.filters.http.buffer": { "@type": "type.googleapis.com/envoy.extensions.filters.http.buffer.v3.BufferPerRoute", disable: true } }));
    expect(error.path).toBe('virtual_hosts[0].routes[0].typed_per_filter_config["envoy.filters.http.buffer"].disable');
  });

  it("refuses an unknown type URL, a missing @type, an unknown enum value and a doubly-set oneof", () => {
    expect(refusal(listener([{ name: "x", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.nope.v3.Nope" } }])).message).toContain(
      "unknown message type",
    );
    expect(refusal({ name: "no-type" }).path).toBe('["@type"]');
    const badEnum = refusal({ "@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", name: "c", type: "EDS_PLEASE" });
    expect(badEnum.path).toBe("type");
    const oneof = refusal({ ...routeConfig({}), virtual_hosts: [{ name: "v", domains: ["*"], routes: [{ match: { prefix: "/", path: "/x" }, route: { cluster: "app" } }] }] });
    expect(oneof.path).toBe("virtual_hosts[0].routes[0].match.prefix");
    expect(oneof.message).toContain("oneof path_specifier");
  });

  it("refuses values of the wrong type", () => {
    expect(refusal({ ...listener(), address: { socket_address: { address: "0.0.0.0", port_value: -1 } } }).path).toBe("address.socket_address.port_value");
    expect(refusal({ "@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", name: "c", connect_timeout: "1 second" }).path).toBe("connect_timeout");
  });

  it("maps the well-known types' JSON forms: Duration, wrappers, Struct", () => {
    const bytes = encodeResource({
      "@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster",
      name: "c",
      connect_timeout: "1.5s",
      per_connection_buffer_limit_bytes: 32768,
      metadata: { filter_metadata: { bulwark: { owner: "shop", weight: 2, tags: ["a", null, true], nested: { x: "y" } } } },
    });
    const decoded = decode("envoy.config.cluster.v3.Cluster", bytes);
    expect(decoded.connect_timeout).toEqual({ seconds: "1", nanos: 500000000 });
    expect(decoded.per_connection_buffer_limit_bytes).toEqual({ value: 32768 });
    const fields = (decoded.metadata as { filter_metadata: Record<string, { fields: Record<string, unknown> }> }).filter_metadata.bulwark?.fields;
    expect(fields?.owner).toEqual({ stringValue: "shop" });
    expect(fields?.tags).toEqual({ listValue: { values: [{ stringValue: "a" }, { nullValue: "NULL_VALUE" }, { boolValue: true }] } });
  });
});
