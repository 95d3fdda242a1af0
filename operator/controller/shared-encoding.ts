import type { JsonObject } from "../../envoy/json.js";
import { encodeResource } from "../../envoy/proto/encode.js";
import type { NamedResource, SidecarResources } from "../../envoy/translate/resources.js";
import { referencesOf } from "../../envoy/xds/sidecar-snapshot.js";
import { makeSnapshot, type ResourceInput, type ResourceRef, type Snapshot } from "../../envoy/xds/snapshot.js";
import { TypeUrl } from "../../envoy/xds/type-urls.js";

/**
 * Encoded bodies by resource object. Translation hands every sidecar the same objects for what
 * they share (the mesh's clusters, endpoints and route configurations), so each is encoded once
 * per translation, not once per sidecar. Objects are never mutated after translation.
 */
const encoded = new WeakMap<JsonObject, { body: Buffer; references: ResourceRef[] }>();

function encodeOnce(typeUrl: TypeUrl, resource: JsonObject): { body: Buffer; references: ResourceRef[] } {
  let entry = encoded.get(resource);
  if (!entry) {
    entry = { body: encodeResource(resource), references: referencesOf(typeUrl, resource) };
    encoded.set(resource, entry);
  }
  return entry;
}

/** The snapshot of a sidecar's resources (as `sidecarSnapshot`), encoding shared resources once. */
export function sharedEncodingSnapshot(resources: SidecarResources): Snapshot {
  const inputs: ResourceInput[] = [];
  const add = (typeUrl: TypeUrl, list: readonly NamedResource[]): void => {
    for (const r of list) inputs.push({ typeUrl, name: r.name, ...encodeOnce(typeUrl, r.resource) });
  };
  add(TypeUrl.Listener, resources.listeners);
  add(TypeUrl.Route, resources.routes);
  add(TypeUrl.Cluster, resources.clusters);
  add(TypeUrl.Endpoints, resources.endpoints);
  add(TypeUrl.Secret, resources.secrets);
  return makeSnapshot(inputs);
}
