import { loadPackageDefinition, type ServiceDefinition } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/** The proto trees the npm package @grpc/grpc-js-xds ships (Envoy API, xds, googleapis, validate). */
export function envoyProtoIncludeDirs(): string[] {
  const require = createRequire(import.meta.url);
  const root = dirname(require.resolve("@grpc/grpc-js-xds/package.json"));
  return ["envoy-api", "xds", "googleapis", "protoc-gen-validate"].map((d) => join(root, "deps", d));
}

export interface Any {
  type_url: string;
  value: Buffer;
}

export interface Node {
  id?: string;
  cluster?: string;
  metadata?: unknown;
}

export interface Status {
  code?: number;
  message?: string;
}

export interface DiscoveryRequest {
  version_info?: string;
  node?: Node;
  resource_names?: string[];
  type_url?: string;
  response_nonce?: string;
  error_detail?: Status | null;
}

export interface DiscoveryResponse {
  version_info: string;
  resources: Any[];
  type_url: string;
  nonce: string;
}

export interface DeltaDiscoveryRequest {
  node?: Node;
  type_url?: string;
  resource_names_subscribe?: string[];
  resource_names_unsubscribe?: string[];
  initial_resource_versions?: Record<string, string>;
  response_nonce?: string;
  error_detail?: Status | null;
}

export interface DeltaResource {
  name: string;
  version: string;
  resource: Any;
}

export interface DeltaDiscoveryResponse {
  system_version_info: string;
  resources: DeltaResource[];
  type_url: string;
  removed_resources: string[];
  nonce: string;
}

let definition: ServiceDefinition | undefined;

/** The AggregatedDiscoveryService definition, loaded once from the Envoy API protos. */
export function aggregatedDiscoveryService(): ServiceDefinition {
  if (definition) return definition;
  const packageDefinition = loadSync("envoy/service/discovery/v3/ads.proto", {
    includeDirs: envoyProtoIncludeDirs(),
    keepCase: true,
    longs: String,
    enums: String,
    defaults: false,
    oneofs: true,
  });
  const loaded = loadPackageDefinition(packageDefinition) as unknown as {
    envoy: { service: { discovery: { v3: { AggregatedDiscoveryService: { service: ServiceDefinition } } } } };
  };
  definition = loaded.envoy.service.discovery.v3.AggregatedDiscoveryService.service;
  return definition;
}
