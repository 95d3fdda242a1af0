import { namespaceOf, SidecarAnnotation, type PodObject } from "./objects.js";

export interface SidecarPorts {
  sidecarPort: number;
  appPort: number;
  /** The egress proxy's port, when the pod names one (else the default, 15001). */
  outboundPort?: number;
}

function port(value: string | undefined): number | undefined {
  if (value === undefined || !/^[0-9]{1,5}$/.test(value)) return undefined;
  const n = Number(value);
  return n >= 1 && n <= 65535 ? n : undefined;
}

/** The sidecar ports of a live pod, or undefined when it has no (valid) sidecar or is finished. */
export function sidecarPorts(pod: PodObject): SidecarPorts | undefined {
  if (pod.metadata.deletionTimestamp) return undefined;
  if (pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed") return undefined;
  const annotations = pod.metadata.annotations ?? {};
  const sidecarPort = port(annotations[SidecarAnnotation.sidecarPort]);
  const appPort = port(annotations[SidecarAnnotation.appPort]);
  if (sidecarPort === undefined || appPort === undefined || sidecarPort === appPort) return undefined;
  const outboundText = annotations[SidecarAnnotation.outboundPort];
  if (outboundText === undefined) return { sidecarPort, appPort };
  const outboundPort = port(outboundText);
  // A sidecar whose egress port is unusable or taken by its other ports has no valid configuration.
  if (outboundPort === undefined || outboundPort === sidecarPort || outboundPort === appPort) return undefined;
  return { sidecarPort, appPort, outboundPort };
}

export function labelsMatch(selector: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  const entries = Object.entries(selector);
  if (entries.length === 0) return false;
  return entries.every(([k, v]) => labels?.[k] === v);
}

/** Pods of `namespace` whose labels include `selector`, sorted by name. */
export function selectPods(pods: readonly PodObject[], namespace: string, selector: Record<string, string>): PodObject[] {
  return pods
    .filter((p) => namespaceOf(p.metadata) === namespace && labelsMatch(selector, p.metadata.labels))
    .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0));
}
