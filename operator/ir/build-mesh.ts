import type { MeshService } from "../resolve/resolve.js";
import type { ListenerIR, MeshIR, MeshServiceIR, MeshSettings, WorkloadIR } from "../../contract/ir.js";
import { compareStrings } from "../../common/order.js";

/** `outbound/<ns>/<service>`: the destination's cluster and endpoint set. */
export function meshServiceName(namespace: string, service: string): string {
  return `outbound/${namespace}/${service}`;
}

function spiffe(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

/** Authorities of a Service: fully qualified and shorter forms, with and without each port. The bare name is per caller namespace. */
export function meshHosts(service: { namespace: string; service: string; ports: readonly number[] }, clusterDomain: string): string[] {
  const names = [`${service.service}.${service.namespace}`, `${service.service}.${service.namespace}.svc`, `${service.service}.${service.namespace}.svc.${clusterDomain}`];
  return names.flatMap((n) => [n, ...service.ports.map((p) => `${n}:${p}`)]).sort(compareStrings);
}

/**
 * The mesh's destinations: each Service with sidecar pods, its endpoints (pod IP and sidecar
 * inbound port), the SPIFFE ids its sidecars present, and TLS as its sidecars' listeners expect
 * it. Sidecars whose policy is invalid keep a configuration translation no longer knows, so they
 * are left out until it is valid again.
 */
export function buildMesh(services: readonly MeshService[], workloads: readonly WorkloadIR[], settings: MeshSettings): MeshIR {
  const listeners = new Map<string, ListenerIR>();
  for (const w of workloads) for (const id of w.sidecars) listeners.set(id, w.listener);
  const out: MeshServiceIR[] = [];
  for (const s of services) {
    const known = s.pods.filter((p) => listeners.has(p.sidecar));
    if (known.length === 0) continue;
    const endpoints = known
      .filter((p): p is typeof p & { address: string } => p.address !== undefined && p.ready)
      .map((p) => ({ address: p.address, port: p.port, tls: listeners.get(p.sidecar)?.tls !== undefined }))
      .sort((a, b) => compareStrings(`${a.address}:${String(a.port).padStart(5, "0")}`, `${b.address}:${String(b.port).padStart(5, "0")}`));
    const tlsListeners = known.map((p) => listeners.get(p.sidecar)?.tls).filter((t) => t !== undefined);
    const identities = [...new Set(known.map((p) => spiffe(settings.trustDomain, s.namespace, p.serviceAccount)))].sort(compareStrings);
    out.push({
      name: meshServiceName(s.namespace, s.name),
      namespace: s.namespace,
      service: s.name,
      hosts: meshHosts({ namespace: s.namespace, service: s.name, ports: s.ports }, settings.clusterDomain),
      ports: s.ports,
      endpoints,
      identities,
      ...(tlsListeners.length > 0 ? { tls: { minVersion: tlsListeners.some((t) => t.minVersion === "TLSv1.3") ? "TLSv1.3" : "TLSv1.2" } } : {}),
    });
  }
  return { trustDomain: settings.trustDomain, services: out.sort((a, b) => compareStrings(a.name, b.name)) };
}
