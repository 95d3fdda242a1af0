import type { ServiceDefinition } from "@grpc/grpc-js";
import { envoyGrpcService } from "../../envoy/proto/grpc-service.js";

/** envoy.service.auth.v3.Authorization for gRPC clients (tests, benchmarks), loaded once from the Envoy API protos. The server reads Check with check-codec.ts. */
export function authorizationService(): ServiceDefinition {
  return envoyGrpcService("envoy/service/auth/v3/external_auth.proto", "envoy.service.auth.v3.Authorization");
}
