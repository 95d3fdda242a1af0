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

const loaded = new Map<string, ServiceDefinition>();

/**
 * A gRPC service of the Envoy API (e.g. `envoy.service.auth.v3.Authorization` from
 * `envoy/service/auth/v3/external_auth.proto`), loaded once with @grpc/proto-loader from the
 * protos @grpc/grpc-js-xds ships.
 */
export function envoyGrpcService(protoFile: string, serviceName: string, options: { longs?: typeof Number | typeof String } = {}): ServiceDefinition {
  const cached = loaded.get(serviceName);
  if (cached) return cached;
  const packageDefinition = loadSync(protoFile, { includeDirs: envoyProtoIncludeDirs(), keepCase: true, longs: options.longs ?? String, enums: String, defaults: false, oneofs: true });
  let node: unknown = loadPackageDefinition(packageDefinition);
  for (const part of serviceName.split(".")) node = (node as Record<string, unknown> | undefined)?.[part];
  const service = (node as { service?: ServiceDefinition } | undefined)?.service;
  if (!service) throw new Error(`${protoFile} does not define the gRPC service ${serviceName}`);
  loaded.set(serviceName, service);
  return service;
}

/** The AggregatedDiscoveryService definition. */
export function aggregatedDiscoveryService(): ServiceDefinition {
  return envoyGrpcService("envoy/service/discovery/v3/ads.proto", "envoy.service.discovery.v3.AggregatedDiscoveryService");
}
