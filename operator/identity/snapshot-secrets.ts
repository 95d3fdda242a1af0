import type { NamedResource } from "../../envoy/translate/resources.js";
import { encodeResource } from "../../envoy/proto/encode.js";
import { makeSnapshot, type ResourceInput, type Snapshot } from "../../envoy/xds/snapshot.js";
import { TypeUrl } from "../../envoy/xds/type-urls.js";

/** Names of the SDS secrets the snapshot's resources refer to (and that it lacks). */
export function missingSecrets(snapshot: Snapshot): Set<string> {
  const have = snapshot.resources.get(TypeUrl.Secret);
  const names = new Set<string>();
  for (const byName of snapshot.resources.values()) {
    for (const resource of byName.values()) {
      for (const ref of resource.references) if (ref.typeUrl === TypeUrl.Secret && !have?.has(ref.name)) names.add(ref.name);
    }
  }
  return names;
}

/** The snapshot with `secrets` added: same resources and versions otherwise, so only SDS changes on rotation. */
export function withSecrets(snapshot: Snapshot, secrets: readonly NamedResource[]): Snapshot {
  const inputs: ResourceInput[] = [];
  for (const [typeUrl, byName] of snapshot.resources) {
    for (const r of byName.values()) inputs.push({ typeUrl, name: r.name, body: r.body, references: r.references });
  }
  for (const secret of secrets) inputs.push({ typeUrl: TypeUrl.Secret, name: secret.name, body: encodeResource(secret.resource) });
  return makeSnapshot(inputs);
}
