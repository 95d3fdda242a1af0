import { compareStrings, sortedByKey } from "../../common/order.js";
import { namespaceOf, sidecarNodeId, type PodObject, type ServiceObject } from "./objects.js";
import { podSidecarPorts, type SidecarPodIndex } from "./pod-index.js";
import type { ResolveMemo } from "./resolve-memo.js";

/** A Service whose selector picks pods with sidecars: a destination of the mesh. */
export interface MeshService {
  namespace: string;
  name: string;
  /** The Service's ports (what callers write in a URL), sorted, unique. */
  ports: number[];
  /** Its sidecar pods, sorted by node id. */
  pods: MeshPod[];
}

export interface MeshPod {
  /** Node id (`<pod>.<namespace>`). */
  sidecar: string;
  /** The pod's IP; absent until it has one (no endpoint then). */
  address?: string;
  /** The sidecar's inbound port. */
  port: number;
  serviceAccount: string;
  /** Ready for traffic: not terminating, and its Ready condition (if any) True, or the Service publishes not-ready addresses. */
  ready: boolean;
}

/**
 * What the EndpointSlice controller calls ready: a pod whose Ready condition is True. A pod that
 * reports no Ready condition at all (an object no kubelet runs, as in files given to render) counts
 * as ready; a terminating pod never does (sidecarPorts leaves it out).
 */
function podReady(pod: PodObject): boolean {
  const ready = pod.status?.conditions?.find((c) => c.type === "Ready");
  return ready === undefined || ready.status === "True";
}

export function meshServices(services: readonly ServiceObject[], podIndex: SidecarPodIndex, memo: ResolveMemo | undefined): MeshService[] {
  const out: MeshService[] = [];
  for (const service of services) {
    const selector = service.spec?.selector ?? {};
    if (Object.keys(selector).length === 0) continue;
    const namespace = namespaceOf(service.metadata);
    const pods = podIndex.select(namespace, selector);
    if (pods.length === 0) continue;
    out.push(memo ? memo.meshService(service, pods, () => meshService(service, pods)) : meshService(service, pods));
  }
  return sortedByKey(out);
}

/** One Service with sidecar pods as a destination of the mesh. */
function meshService(service: ServiceObject, pods: readonly PodObject[]): MeshService {
  const ports = [...new Set((service.spec?.ports ?? []).filter((p) => (p.protocol ?? "TCP") === "TCP").map((p) => p.port))].sort((a, b) => a - b);
  return {
    namespace: namespaceOf(service.metadata),
    name: service.metadata.name,
    ports,
    pods: pods
      .map((pod): MeshPod => {
        const address = pod.status?.podIP;
        return {
          sidecar: sidecarNodeId(pod),
          ...(address ? { address } : {}),
          port: podSidecarPorts(pod)?.sidecarPort ?? 0,
          serviceAccount: pod.spec?.serviceAccountName || "default",
          ready: service.spec?.publishNotReadyAddresses === true || podReady(pod),
        };
      })
      .sort((a, b) => compareStrings(a.sidecar, b.sidecar)),
  };
}
