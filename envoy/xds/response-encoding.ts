import type protobuf from "protobufjs";
import { envoyProtoRoot } from "../proto/load.js";
import type { Any, DeltaDiscoveryResponse, DeltaResource, DiscoveryResponse } from "./ads-protocol.js";

/**
 * The bytes of the discovery responses the ADS streams send, written from parts so that each
 * resource is encoded once per version and shared by every stream that sends it.
 *
 * Protobuf's encoding of a message is its fields' encodings one after the other (protobufjs
 * writes them in field-number order), and a parser reading the concatenation of two encodings of
 * the same message type merges them, a repeated field taking the elements of both. So a response
 * is the encoding of `{version_info}`, then of `{resources: [r]}` for each resource (cached by
 * the resource's bytes), then of `{type_url}` and `{nonce}`, and for delta `{removed_resources}`:
 * byte for byte what encoding the whole response at once gives (response-encoding.test.ts holds
 * the two together), without building a protobufjs message of every resource for every stream.
 */

interface DiscoveryTypes {
  sotw: protobuf.Type;
  delta: protobuf.Type;
}

let discoveryTypes: DiscoveryTypes | undefined;

function types(): DiscoveryTypes {
  if (discoveryTypes) return discoveryTypes;
  const root = envoyProtoRoot();
  discoveryTypes = {
    sotw: root.lookupType("envoy.service.discovery.v3.DiscoveryResponse"),
    delta: root.lookupType("envoy.service.discovery.v3.DeltaDiscoveryResponse"),
  };
  return discoveryTypes;
}

interface CachedPart {
  /** Everything the part was encoded from besides the resource's bytes. */
  key: string;
  bytes: Uint8Array;
}

/**
 * The encoded one-resource parts by the resource's bytes (the `body` a snapshot holds and every
 * stream sends): collected with the snapshots that hold them. Two caches, as SotW and delta wrap
 * a resource differently.
 */
const sotwParts = new WeakMap<Buffer, CachedPart>();
const deltaParts = new WeakMap<Buffer, CachedPart>();

function cachedPart(cache: WeakMap<Buffer, CachedPart>, value: Buffer, key: string, encode: () => Uint8Array): Uint8Array {
  const cached = cache.get(value);
  if (cached?.key === key) return cached.bytes;
  const bytes = encode();
  cache.set(value, { key, bytes });
  return bytes;
}

function sotwResourcePart(any: Any): Uint8Array {
  return cachedPart(sotwParts, any.value, any.type_url, () =>
    types()
      .sotw.encode({ resources: [any] })
      .finish(),
  );
}

function deltaResourcePart(resource: DeltaResource): Uint8Array {
  const key = `${resource.resource.type_url}\u0000${resource.name}\u0000${resource.version}`;
  return cachedPart(deltaParts, resource.resource.value, key, () =>
    types()
      .delta.encode({ resources: [resource] })
      .finish(),
  );
}

function concat(parts: readonly Uint8Array[]): Buffer {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = Buffer.allocUnsafe(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** The protobuf encoding of a state-of-the-world response. */
export function encodeDiscoveryResponse(response: DiscoveryResponse): Buffer {
  const { sotw } = types();
  return concat([
    sotw.encode({ version_info: response.version_info }).finish(),
    ...response.resources.map(sotwResourcePart),
    sotw.encode({ type_url: response.type_url, nonce: response.nonce }).finish(),
  ]);
}

/** The protobuf encoding of an incremental (delta) response. */
export function encodeDeltaDiscoveryResponse(response: DeltaDiscoveryResponse): Buffer {
  const { delta } = types();
  return concat([
    delta.encode({ system_version_info: response.system_version_info }).finish(),
    ...response.resources.map(deltaResourcePart),
    delta.encode({ type_url: response.type_url, nonce: response.nonce, removed_resources: response.removed_resources }).finish(),
  ]);
}
