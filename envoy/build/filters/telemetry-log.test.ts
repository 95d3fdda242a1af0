import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../json.js";
import { encodeResource } from "../../proto/encode.js";
import { fixtureSettings, passThroughWorkload } from "../../testdata/ir-fixtures.js";
import type { TranslationSettings, WorkloadIR } from "../../../contract/ir.js";
import { buildSidecarResources } from "../sidecar.js";
import { NAMES } from "../resources.js";
import { TELEMETRY_LOG_PREFIX } from "../../../contract/telemetry.js";

const telemetry = { deviceHeader: "x-device-id", appVersionHeader: "x-app-version", platformHeader: "x-app-platform" };
const workload: WorkloadIR = { ...passThroughWorkload, telemetry };
const receiver: TranslationSettings = { ...fixtureSettings, telemetry: { host: "127.0.0.1", port: 8090 } };

function accessLogs(w: WorkloadIR, settings: TranslationSettings = receiver): JsonObject[] {
  const listener = buildSidecarResources(w, settings).listeners[0]?.resource;
  const chain = (listener?.filter_chains as JsonObject[])[0] as JsonObject;
  const hcm = (chain.filters as JsonObject[])[0]?.typed_config as JsonObject;
  return (hcm.access_log ?? []) as JsonObject[];
}

describe("the telemetry access logger", () => {
  it("streams every request, buffered, with the identity headers and the reason header, to the bulwark-telemetry cluster", () => {
    const [log] = accessLogs(workload);
    expect(log).toMatchObject({
      name: "envoy.access_loggers.http_grpc",
      typed_config: {
        common_config: {
          log_name: `${TELEMETRY_LOG_PREFIX}${workload.name}`,
          grpc_service: { envoy_grpc: { cluster_name: NAMES.telemetryCluster } },
          buffer_size_bytes: 16384,
          custom_tags: [
            { tag: "device", request_header: { name: "x-device-id" } },
            { tag: "app_version", request_header: { name: "x-app-version" } },
            { tag: "platform", request_header: { name: "x-app-platform" } },
          ],
        },
        additional_response_headers_to_log: ["x-bulwark-reason"],
      },
    });
    // No filter: the default-deny 404s and every refusal are streamed too.
    expect(log?.filter).toBeUndefined();
    const resources = buildSidecarResources(workload, receiver);
    expect(resources.clusters.map((c) => c.name)).toContain(NAMES.telemetryCluster);
    expect(resources.endpoints.map((c) => c.name)).toContain(NAMES.telemetryCluster);
    for (const r of [...resources.listeners, ...resources.clusters]) expect(() => encodeResource(r.resource), r.name).not.toThrow();
  });

  it("reaches a receiver with TLS over Envoy's Google gRPC client, verifying its CA and presenting the pod's telemetry token; no plaintext cluster", () => {
    const tls: TranslationSettings = {
      ...fixtureSettings,
      telemetry: { host: "bulwark-telemetry.bulwark-system.svc", port: 8091, tls: { caPem: "CA PEM", serverName: "telemetry.example" }, tokenFile: "/var/run/t/token" },
    };
    const [log] = accessLogs(workload, tls);
    const service = ((log?.typed_config as JsonObject).common_config as JsonObject).grpc_service;
    expect(service).toEqual({
      google_grpc: {
        target_uri: "bulwark-telemetry.bulwark-system.svc:8091",
        stat_prefix: "bulwark_telemetry",
        channel_credentials: { ssl_credentials: { root_certs: { inline_string: "CA PEM" } } },
        credentials_factory_name: "envoy.grpc_credentials.file_based_metadata",
        call_credentials: [
          {
            from_plugin: {
              name: "envoy.grpc_credentials.file_based_metadata",
              typed_config: {
                "@type": "type.googleapis.com/envoy.config.grpc_credential.v3.FileBasedMetadataConfig",
                secret_data: { filename: "/var/run/t/token" },
                header_key: "authorization",
                header_prefix: "Bearer ",
              },
            },
          },
        ],
        channel_args: { args: { "grpc.ssl_target_name_override": { string_value: "telemetry.example" } } },
      },
    });
    const resources = buildSidecarResources(workload, tls);
    expect(resources.clusters.map((c) => c.name)).not.toContain(NAMES.telemetryCluster);
    // Served over xDS: the token plugin's config must encode (its proto is loaded).
    for (const r of resources.listeners) expect(() => encodeResource(r.resource), r.name).not.toThrow();
  });

  it("never sends a token in plaintext", () => {
    expect(() => accessLogs(workload, { ...fixtureSettings, telemetry: { host: "127.0.0.1", port: 8090, tokenFile: "/t" } })).toThrow(/only over TLS/);
  });

  it("is absent when the policy does not ask, or when the installation has no receiver", () => {
    expect(accessLogs(passThroughWorkload)).toEqual([]);
    expect(accessLogs(workload, fixtureSettings)).toEqual([]);
    expect(buildSidecarResources(workload, fixtureSettings).clusters.map((c) => c.name)).not.toContain(NAMES.telemetryCluster);
  });
});
