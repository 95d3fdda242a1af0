import { createHash } from "node:crypto";
import { shortTypeName, XdsType, type XdsType as XdsTypeT } from "../type-urls.js";
import { compareStrings } from "../../common/order.js";

/** One encoded xDS resource; `version` is a hash of its bytes, so it never changes unless the resource does. */
export interface XdsResource {
  name: string;
  version: string;
  /** Serialized resource (the `value` of its Any). */
  body: Buffer;
  /** Resources it needs: route configurations and secrets of a listener, endpoint sets of a cluster. */
  references: ResourceRef[];
}

export interface ResourceRef {
  typeUrl: XdsTypeT;
  name: string;
}

export interface Snapshot {
  /** Per type: resources by name. */
  resources: ReadonlyMap<XdsTypeT, ReadonlyMap<string, XdsResource>>;
  /** Per type: hash of every (name, version) of the type. */
  typeVersions: ReadonlyMap<XdsTypeT, string>;
  /** Hash of the whole snapshot. */
  version: string;
}

export interface ResourceInput {
  typeUrl: XdsTypeT;
  name: string;
  body: Buffer;
  references?: ResourceRef[];
}

export function hashHex(...parts: readonly (string | Buffer)[]): string {
  const hash = createHash("sha256");
  for (const part of parts) {
    hash.update(part);
    hash.update("\u0000");
  }
  return hash.digest("hex").slice(0, 16);
}

/** Version of a set of resources: a hash of their names and versions in name order. */
export function versionOf(resources: Iterable<XdsResource>): string {
  const sorted = [...resources].sort((a, b) => compareStrings(a.name, b.name));
  return hashHex(...sorted.flatMap((r) => [r.name, r.version]));
}

/** Builds a snapshot; the same resources always give the same versions, whatever their order. */
export function makeSnapshot(inputs: readonly ResourceInput[]): Snapshot {
  const resources = new Map<XdsTypeT, Map<string, XdsResource>>();
  for (const type of Object.values(XdsType)) resources.set(type, new Map());
  for (const input of inputs) {
    const byName = resources.get(input.typeUrl);
    if (!byName) throw new Error(`unsupported resource type ${input.typeUrl}`);
    if (byName.has(input.name)) throw new Error(`duplicate ${input.typeUrl} resource ${input.name}`);
    byName.set(input.name, {
      name: input.name,
      version: hashHex(input.body),
      body: input.body,
      references: [...(input.references ?? [])].sort((a, b) => compareStrings(`${a.typeUrl} ${a.name}`, `${b.typeUrl} ${b.name}`)),
    });
  }
  const typeVersions = new Map<XdsTypeT, string>();
  for (const [type, byName] of resources) typeVersions.set(type, versionOf(byName.values()));
  const version = hashHex(...[...typeVersions.entries()].flatMap(([t, v]) => [t, v]));
  return { resources, typeVersions, version };
}

/** Every reference that the snapshot cannot satisfy (a sidecar would wait for it forever). */
export function inconsistencies(snapshot: Snapshot): string[] {
  const problems: string[] = [];
  for (const [typeUrl, byName] of snapshot.resources) {
    for (const resource of byName.values()) {
      for (const ref of resource.references) {
        if (!snapshot.resources.get(ref.typeUrl)?.has(ref.name)) {
          problems.push(`${shortTypeName(typeUrl)} ${resource.name} refers to ${shortTypeName(ref.typeUrl)} ${ref.name}, which the snapshot does not have`);
        }
      }
    }
  }
  return problems;
}
