import { createHash } from "node:crypto";
import type { JsonObject } from "../json.js";
import { encodeResource } from "../proto/encode.js";
import type { NamedResource, SidecarResources } from "../build/resources.js";
import { referencesOf } from "./sidecar-snapshot.js";
import { hashHex, type Snapshot, type XdsResource } from "./snapshot.js";
import { XdsType } from "../type-urls.js";
import { compareStrings } from "../../common/order.js";

/**
 * Encoded resources by resource object. Translation hands every sidecar the same objects for
 * what they share (the mesh's clusters, endpoints and route configurations), so each is encoded
 * and hashed once per translation, not once per sidecar: with 1,000 mesh Services and 1,000
 * sidecars that is 1,000 encodings instead of 1,000,000. Objects are never mutated after
 * translation.
 */
const encoded = new WeakMap<JsonObject, XdsResource>();

function encodeOnce(typeUrl: XdsType, named: NamedResource): XdsResource {
  let resource = encoded.get(named.resource);
  if (!resource) {
    const body = encodeResource(named.resource);
    const references = referencesOf(typeUrl, named.resource).sort((a, b) => compareStrings(`${a.typeUrl} ${a.name}`, `${b.typeUrl} ${b.name}`));
    resource = { name: named.name, version: hashHex(body), body, references };
    encoded.set(named.resource, resource);
  }
  return resource;
}

/**
 * `versionOf` (snapshot.ts) in one hash update: the same bytes — each name and version followed
 * by a NUL, in name order — so the same version, without thousands of small updates per sidecar.
 */
function typeVersion(byName: ReadonlyMap<string, XdsResource>): string {
  const sorted = [...byName.values()].sort((a, b) => compareStrings(a.name, b.name));
  let text = "";
  for (const r of sorted) text += `${r.name}\u0000${r.version}\u0000`;
  return createHash("sha256").update(text).digest("hex").slice(0, 16);
}

/** A snapshot of resources by type; the versions of types in `unchanged` are taken from it. */
export function assembleSnapshot(byType: ReadonlyMap<XdsType, ReadonlyMap<string, XdsResource>>, unchanged?: Snapshot): Snapshot {
  const typeVersions = new Map<XdsType, string>();
  for (const [type, byName] of byType) {
    const same = unchanged !== undefined && unchanged.resources.get(type) === byName;
    typeVersions.set(type, (same ? unchanged.typeVersions.get(type) : undefined) ?? typeVersion(byName));
  }
  const version = hashHex(...[...typeVersions.entries()].flatMap(([t, v]) => [t, v]));
  return { resources: byType, typeVersions, version };
}

/**
 * The snapshot of a sidecar's resources, equal to `sidecarSnapshot(resources)` (same resources,
 * same versions: a unit test holds them together) but built from shared encoded resources.
 */
export function sharedEncodingSnapshot(resources: SidecarResources): Snapshot {
  const byType = new Map<XdsType, Map<string, XdsResource>>();
  for (const type of Object.values(XdsType)) byType.set(type, new Map());
  const add = (typeUrl: XdsType, list: readonly NamedResource[]): void => {
    const byName = byType.get(typeUrl);
    if (!byName) throw new Error(`unsupported resource type ${typeUrl}`);
    for (const r of list) {
      if (byName.has(r.name)) throw new Error(`duplicate ${typeUrl} resource ${r.name}`);
      byName.set(r.name, encodeOnce(typeUrl, r));
    }
  };
  add(XdsType.Listener, resources.listeners);
  add(XdsType.Route, resources.routes);
  add(XdsType.Cluster, resources.clusters);
  add(XdsType.Endpoints, resources.endpoints);
  add(XdsType.Secret, resources.secrets);
  return assembleSnapshot(byType);
}
