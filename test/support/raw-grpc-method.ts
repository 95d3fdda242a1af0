import type { MethodDefinition } from "@grpc/grpc-js";

/** A grpc-js method definition that sends and receives raw bytes: a client for tests that write requests by hand (garbage, unknown methods). */
export function rawGrpcMethod(path: string, requestStream = false): MethodDefinition<Buffer, Buffer> {
  const same = (b: Buffer): Buffer => b;
  return { path, requestStream, responseStream: false, requestSerialize: same, requestDeserialize: same, responseSerialize: same, responseDeserialize: same };
}
