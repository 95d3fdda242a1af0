import { describe, expect, it } from "vitest";
import type { JsonObject, JsonValue } from "../json.js";
import { encodeResource } from "../proto/encode.js";
import { fixtureSettings, gatewayWorkload, passThroughWorkload, shopWorkload } from "../testdata/ir-fixtures.js";
import { buildSidecarResources } from "../build/sidecar.js";
import { standaloneBootstrap, type PlaceholderPems } from "./standalone-bootstrap.js";

const pems: PlaceholderPems = { certificateChain: "CERT", privateKey: "KEY", trustedCa: "CA" };

function find(value: JsonValue, key: string): JsonValue[] {
  if (Array.isArray(value)) return value.flatMap((v) => find(v, key));
  if (value === null || typeof value !== "object") return [];
  return [...(key in value ? [value[key] ?? null] : []), ...Object.values(value).flatMap((v) => find(v, key))];
}

function staticResources(bootstrap: JsonObject): JsonObject {
  return bootstrap.static_resources as JsonObject;
}

describe("standaloneBootstrap", () => {
  it("inlines the route configuration, makes EDS clusters static and keeps no dynamic source", () => {
    const resources = buildSidecarResources(shopWorkload, fixtureSettings);
    const bootstrap = standaloneBootstrap(resources, { placeholders: pems, adminPort: 9901 });
    expect(bootstrap.admin).toEqual({ address: { socket_address: { address: "127.0.0.1", port_value: 9901 } } });
    expect(find(bootstrap, "rds")).toEqual([]);
    expect(find(bootstrap, "sds_config")).toEqual([]);
    expect(find(bootstrap, "eds_cluster_config")).toEqual([]);
    const routeConfig = find(bootstrap, "route_config");
    const { "@type": _type, ...bareRoutes } = resources.routes[0]!.resource;
    expect(routeConfig).toEqual([bareRoutes]);
    const clusters = staticResources(bootstrap).clusters as JsonObject[];
    expect(clusters.map((c) => [c.name, c.type])).toEqual([
      ["app", "STATIC"],
      ["bulwark-authz", "STRICT_DNS"],
      ["bulwark-ratelimit", "STATIC"],
      ["jwks/auth.example.com/443", "LOGICAL_DNS"],
    ]);
    expect(find(clusters[0]!, "socket_address")).toEqual([{ address: "127.0.0.1", port_value: 8080 }]);
    expect(clusters.every((c) => !("@type" in c))).toBe(true);
  });

  it("supplies placeholder secrets for the SDS references, by the kind each reference needs", () => {
    const bootstrap = standaloneBootstrap(buildSidecarResources(gatewayWorkload, fixtureSettings), { placeholders: pems });
    expect(staticResources(bootstrap).secrets).toEqual([
      { name: "trust-bundle", validation_context: { trusted_ca: { inline_string: "CA" } } },
      { name: "workload-cert", tls_certificate: { certificate_chain: { inline_string: "CERT" }, private_key: { inline_string: "KEY" } } },
    ]);
    expect(find(bootstrap, "tls_certificate_sds_secret_configs")).toEqual([[{ name: "workload-cert" }]]);
  });

  it("prefers secrets the resources carry, and refuses references it cannot satisfy", () => {
    const resources = buildSidecarResources(shopWorkload, fixtureSettings);
    expect(() => standaloneBootstrap(resources)).toThrow(/secret trust-bundle is referenced over SDS/);
    const carried = {
      ...resources,
      secrets: [
        {
          name: "trust-bundle",
          resource: {
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret",
            name: "trust-bundle",
            validation_context: { trusted_ca: { inline_string: "REAL-CA" } },
          },
        },
      ],
    };
    const secrets = staticResources(standaloneBootstrap(carried, { placeholders: pems })).secrets as JsonObject[];
    expect(secrets.find((s) => s.name === "trust-bundle")).toEqual({ name: "trust-bundle", validation_context: { trusted_ca: { inline_string: "REAL-CA" } } });
  });

  it("refuses an EDS cluster without endpoints", () => {
    const resources = buildSidecarResources(passThroughWorkload, fixtureSettings);
    expect(() => standaloneBootstrap({ ...resources, endpoints: [] })).toThrow(/EDS cluster app has no ClusterLoadAssignment/);
  });

  it("is a valid Bootstrap message", () => {
    for (const workload of [shopWorkload, gatewayWorkload, passThroughWorkload]) {
      const bootstrap = standaloneBootstrap(buildSidecarResources(workload, fixtureSettings), { placeholders: pems });
      expect(encodeResource({ "@type": "type.googleapis.com/envoy.config.bootstrap.v3.Bootstrap", ...bootstrap }).length).toBeGreaterThan(0);
    }
  });
});
