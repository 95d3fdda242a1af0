import { loadPackageDefinition, type ServiceDefinition } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { envoyProtoIncludeDirs } from "./load.js";

// Apart from load.ts: the data-plane services read their messages with protobufjs alone and do not load grpc-js (#19: memory).
const servicesByName = new Map<string, ServiceDefinition>();

/**
 * A gRPC service of the Envoy API (e.g. `envoy.service.auth.v3.Authorization` from
 * `envoy/service/auth/v3/external_auth.proto`), loaded once with @grpc/proto-loader from the
 * protos @grpc/grpc-js-xds ships.
 */
export function envoyGrpcService(protoFile: string, serviceName: string, options: { longs?: typeof Number | typeof String } = {}): ServiceDefinition {
  const cached = servicesByName.get(serviceName);
  if (cached) return cached;
  const packageDefinition = loadSync(protoFile, {
    includeDirs: envoyProtoIncludeDirs(),
    keepCase: true,
    longs: options.longs ?? String,
    enums: String,
    defaults: false,
    oneofs: true,
  });
  let node: unknown = loadPackageDefinition(packageDefinition);
  for (const part of serviceName.split(".")) node = (node as Record<string, unknown> | undefined)?.[part];
  const service = (node as { service?: ServiceDefinition } | undefined)?.service;
  if (!service) throw new Error(`${protoFile} does not define the gRPC service ${serviceName}`);
  servicesByName.set(serviceName, service);
  return service;
}
