/** The Envoy side of Bulwark: IR → Envoy resources (pure), their protobuf encoding, and a standalone bootstrap (resources inline) for validation. */
export { buildSidecarResources } from "./build/sidecar.js";
export { NAMES, type NamedResource, type SidecarResources } from "./build/resources.js";
export { TypeUrl } from "./type-urls.js";
export { encodeResource, resourceVersion } from "./proto/encode.js";
export { ProtoJsonError } from "./proto/proto-json.js";
export { envoyProtoRoot } from "./proto/load.js";
export { standaloneBootstrap, type PlaceholderPems, type StandaloneBootstrapOptions } from "./bootstrap/standalone-bootstrap.js";
export { sortKeysDeep, type JsonObject, type JsonValue } from "./json.js";
