import type { MeshServiceIR } from "../../contract/ir.js";
import { meshServiceResources } from "../build/outbound.js";
import { encodeResource } from "../proto/encode.js";
import { TypeUrl } from "../type-urls.js";

/** Results by entry, bounded: a mesh of more destinations than this only checks some again. */
const MAX_REMEMBERED = 20_000;
const checked = new Map<string, { error?: Error }>();

function check(service: MeshServiceIR): { error?: Error } {
  try {
    const { cluster, endpoints, virtualHost } = meshServiceResources(service);
    encodeResource(cluster.resource);
    encodeResource(endpoints.resource);
    encodeResource({ "@type": TypeUrl.routeConfiguration, name: service.name, virtual_hosts: [virtualHost] });
    return {};
  } catch (error) {
    return { error: error instanceof Error ? error : new Error(String(error)) };
  }
}

/**
 * Throws when one mesh destination's own Envoy resources (its cluster, endpoint set and virtual
 * host) cannot be built or encoded. Translation calls it per destination, so a destination that
 * would fail fails only the policies behind it, instead of the snapshot of every caller whose
 * egress proxy reaches it. Results are remembered by entry, so an unchanged mesh is not encoded
 * again on every reconcile.
 */
export function checkMeshDestination(service: MeshServiceIR): void {
  const key = JSON.stringify(service);
  let result = checked.get(key);
  if (!result) {
    result = check(service);
    if (checked.size >= MAX_REMEMBERED) checked.clear();
    checked.set(key, result);
  }
  if (result.error !== undefined) throw result.error;
}
