import type { ServiceDefinition } from "@grpc/grpc-js";
import { envoyGrpcService } from "../proto/grpc-service.js";

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

/** The AggregatedDiscoveryService definition. */
export function aggregatedDiscoveryService(): ServiceDefinition {
  return envoyGrpcService("envoy/service/discovery/v3/ads.proto", "envoy.service.discovery.v3.AggregatedDiscoveryService");
}
