import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import protobuf from "protobufjs";

/**
 * The one loader of the Envoy API protos: protobufjs types for encoding resources
 * (envoyProtoRoot) and gRPC service definitions (envoyGrpcService), from the same include trees.
 */

/**
 * The Envoy API files Bulwark's resources use; their imports pull in the rest. The
 * @grpc/grpc-js-xds tree is a subset of the Envoy API, so the whole tree cannot be loaded.
 */
const ENTRY_FILES = [
  "envoy/config/bootstrap/v3/bootstrap.proto",
  "envoy/config/cluster/v3/cluster.proto",
  "envoy/config/endpoint/v3/endpoint.proto",
  "envoy/config/grpc_credential/v3/file_based_metadata.proto",
  "envoy/config/listener/v3/listener.proto",
  "envoy/config/route/v3/route.proto",
  "envoy/extensions/access_loggers/filters/cel/v3/cel.proto",
  "envoy/extensions/access_loggers/grpc/v3/als.proto",
  "envoy/extensions/access_loggers/stream/v3/stream.proto",
  "envoy/extensions/compression/brotli/compressor/v3/brotli.proto",
  "envoy/extensions/compression/gzip/compressor/v3/gzip.proto",
  "envoy/extensions/filters/http/buffer/v3/buffer.proto",
  "envoy/extensions/filters/http/compressor/v3/compressor.proto",
  "envoy/extensions/filters/http/cors/v3/cors.proto",
  "envoy/extensions/filters/http/ext_authz/v3/ext_authz.proto",
  "envoy/extensions/filters/http/header_mutation/v3/header_mutation.proto",
  "envoy/extensions/filters/http/jwt_authn/v3/config.proto",
  "envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.proto",
  "envoy/extensions/filters/http/lua/v3/lua.proto",
  "envoy/extensions/filters/http/ratelimit/v3/rate_limit.proto",
  "envoy/extensions/filters/http/rbac/v3/rbac.proto",
  "envoy/extensions/filters/http/router/v3/router.proto",
  "envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.proto",
  "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto",
  "envoy/extensions/filters/network/direct_response/v3/config.proto",
  "envoy/extensions/http/original_ip_detection/custom_header/v3/custom_header.proto",
  "envoy/extensions/path/match/uri_template/v3/uri_template_match.proto",
  "envoy/extensions/transport_sockets/tls/v3/secret.proto",
  "envoy/extensions/transport_sockets/tls/v3/tls.proto",
  "envoy/extensions/upstreams/http/v3/http_protocol_options.proto",
  "envoy/service/discovery/v3/discovery.proto",
  "envoy/service/ratelimit/v3/rls.proto",
];

/** The proto trees the npm package @grpc/grpc-js-xds ships (Envoy API, xds, googleapis, validate). */
export function envoyProtoIncludeDirs(): string[] {
  const require = createRequire(import.meta.url);
  const root = dirname(require.resolve("@grpc/grpc-js-xds/package.json"));
  return ["envoy-api", "xds", "googleapis", "protoc-gen-validate"].map((d) => join(root, "deps", d));
}

/** Include directories of the protobufjs root: those trees, then protobufjs's own google/protobuf files. */
function includeDirectories(): string[] {
  const require = createRequire(import.meta.url);
  return [...envoyProtoIncludeDirs(), dirname(require.resolve("protobufjs/package.json"))];
}

let root: protobuf.Root | undefined;

/**
 * A protobufjs root of only `files` (and what they import) of the Envoy API, field names as in
 * the protos: for a process that needs a few messages (the data-plane services), a fraction of
 * the memory of envoyProtoRoot. Not cached: load once and keep it.
 */
export function loadEnvoyProtos(files: readonly string[]): protobuf.Root {
  const dirs = includeDirectories();
  const loaded = new protobuf.Root();
  loaded.resolvePath = (_origin: string, target: string): string => {
    for (const dir of dirs) {
      const candidate = join(dir, target);
      if (existsSync(candidate)) return candidate;
    }
    throw new Error(`Envoy API proto ${target} is not in ${dirs.join(", ")}`);
  };
  loaded.loadSync([...files], { keepCase: true });
  loaded.resolveAll();
  return loaded;
}

/** The Envoy API, loaded once on first use. */
export function envoyProtoRoot(): protobuf.Root {
  root ??= loadEnvoyProtos(ENTRY_FILES);
  return root;
}

const typesByUrl = new Map<string, protobuf.Type | undefined>();

/** The message type a type URL (`type.googleapis.com/<full name>`) names, or undefined. */
export function messageTypeOf(typeUrl: string): protobuf.Type | undefined {
  if (typesByUrl.has(typeUrl)) return typesByUrl.get(typeUrl);
  const name = typeUrl.slice(typeUrl.lastIndexOf("/") + 1);
  let type: protobuf.Type | undefined;
  try {
    type = name === "" ? undefined : envoyProtoRoot().lookupType(name);
  } catch {
    type = undefined;
  }
  typesByUrl.set(typeUrl, type);
  return type;
}
