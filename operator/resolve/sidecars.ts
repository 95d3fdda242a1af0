import { namespaceOf, SidecarAnnotation, type PodObject } from "./objects.js";
import { compareStrings } from "../../common/order.js";

export interface SidecarPorts {
  sidecarPort: number;
  appPort: number;
  /** The egress proxy's port, when the pod names one (else the default, 15001). */
  outboundPort?: number;
  /** The mesh Services its egress proxy reaches (`*`, `<ns>/*`, `<ns>/<svc>`, sorted); absent: the pod has no egress proxy. */
  egressTo?: string[];
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
  const egress = egressScope(annotations);
  if (egress === null) return undefined;
  const egressTo = egress ? { egressTo: egress } : {};
  const outboundText = annotations[SidecarAnnotation.outboundPort];
  if (outboundText === undefined) return { sidecarPort, appPort, ...egressTo };
  const outboundPort = port(outboundText);
  // A sidecar whose egress port is unusable or taken by its other ports has no valid configuration.
  if (outboundPort === undefined || outboundPort === sidecarPort || outboundPort === appPort) return undefined;
  return { sidecarPort, appPort, outboundPort, ...egressTo };
}

const LABEL = "[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?";
const EGRESS_ENTRY = new RegExp(`^(\\*|${LABEL}/(\\*|${LABEL}))$`);

/**
 * The destinations of a pod's egress proxy: only pods annotated `bulwark.dev/egress-proxy:
 * enabled` have one (the injector points only their HTTP_PROXY at it), so only they get the
 * mesh's routes, clusters and endpoints; `bulwark.dev/egress-services` narrows it to the listed
 * Services (`<ns>/<svc>`, `<ns>/*`, comma-separated). Undefined: no egress proxy; null: an entry
 * is malformed (the sidecar has no valid configuration, as with a bad port).
 */
export function egressScope(annotations: Readonly<Record<string, string>>): string[] | undefined | null {
  if (annotations[SidecarAnnotation.egressProxy] !== "enabled") return undefined;
  const listed = annotations[SidecarAnnotation.egressServices];
  if (listed === undefined) return ["*"];
  const entries = listed
    .split(",")
    .map((e) => e.trim())
    .filter((e) => e !== "");
  if (entries.length === 0 || entries.some((e) => !EGRESS_ENTRY.test(e))) return null;
  return [...new Set(entries)].sort();
}

/** True when the egress scope `egressTo` includes the Service `<namespace>/<service>`. */
export function egressIncludes(egressTo: readonly string[], namespace: string, service: string): boolean {
  return egressTo.some((e) => e === "*" || e === `${namespace}/*` || e === `${namespace}/${service}`);
}

export function labelsMatch(selector: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  const entries = Object.entries(selector);
  if (entries.length === 0) return false;
  return entries.every(([k, v]) => labels?.[k] === v);
}

/** Pods of `namespace` whose labels include `selector`, sorted by name. */
export function selectPods(pods: readonly PodObject[], namespace: string, selector: Record<string, string>): PodObject[] {
  return pods.filter((p) => namespaceOf(p.metadata) === namespace && labelsMatch(selector, p.metadata.labels)).sort((a, b) => compareStrings(a.metadata.name, b.metadata.name));
}
