import type { NamedResource } from "../build/resources.js";
import { encodeResource } from "../proto/encode.js";
import { hashHex, type Snapshot, type XdsResource } from "./snapshot.js";
import { XdsType } from "../type-urls.js";
import { assembleSnapshot } from "./shared-encoding.js";

/** missingSecrets by snapshot (snapshots are immutable): a reconcile asks for every sidecar's, most of them unchanged. */
const missingBySnapshot = new WeakMap<Snapshot, ReadonlySet<string>>();

/** Names of the SDS secrets the snapshot's resources refer to (and that it lacks); a new set the caller may change. */
export function missingSecrets(snapshot: Snapshot): Set<string> {
  let names = missingBySnapshot.get(snapshot);
  if (!names) {
    names = findMissingSecrets(snapshot);
    missingBySnapshot.set(snapshot, names);
  }
  return new Set(names);
}

function findMissingSecrets(snapshot: Snapshot): Set<string> {
  const have = snapshot.resources.get(XdsType.Secret);
  const names = new Set<string>();
  for (const byName of snapshot.resources.values()) {
    for (const resource of byName.values()) {
      for (const ref of resource.references) if (ref.typeUrl === XdsType.Secret && !have?.has(ref.name)) names.add(ref.name);
    }
  }
  return names;
}

/**
 * The snapshot with `secrets` added: same resources and versions otherwise, so only SDS changes
 * on rotation. The other types' resources are shared, not encoded or hashed again (a sidecar of
 * a large mesh has thousands of clusters).
 */
export function withSecrets(snapshot: Snapshot, secrets: readonly NamedResource[]): Snapshot {
  const byType = new Map<XdsType, ReadonlyMap<string, XdsResource>>(snapshot.resources);
  const own = new Map(snapshot.resources.get(XdsType.Secret) ?? []);
  for (const secret of secrets) {
    if (own.has(secret.name)) throw new Error(`duplicate ${XdsType.Secret} resource ${secret.name}`);
    const body = encodeResource(secret.resource);
    own.set(secret.name, { name: secret.name, version: hashHex(body), body, references: [] });
  }
  byType.set(XdsType.Secret, own);
  return assembleSnapshot(byType, snapshot);
}
