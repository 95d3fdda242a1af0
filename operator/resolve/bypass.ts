import type { ConditionData } from "./conditions.js";
import { namespaceOf, SidecarAnnotation, type PodObject, type ServiceObject } from "./objects.js";
import { labelsMatch, sidecarPorts } from "./sidecars.js";
import { compareStrings } from "../../common/order.js";

/** The name the injector gives the sidecar's inbound container port: what a Service must target. */
export const SIDECAR_PORT_NAME = "bulwark-inbound";

/** A Service port that reaches a governed pod past its sidecar. */
export interface SidecarBypass {
  service: string;
  /** The Service's port. */
  port: number;
  /** Where it leads on the pod: a port number or a named container port that is not the sidecar's. */
  targetPort: number | string;
}

export const SidecarBypassCondition = "SidecarBypass";
export const SidecarBypassReason = "ServicePortBypassesSidecar";

/** The value of `bulwark.dev/inbound-interception` on pods whose app port the injector's init container redirects to the sidecar. */
export const INTERCEPTED = "iptables";

/** Whether `target` (a Service's targetPort) leads to the pod's app port: its number, or a container port of that name and number. */
function isAppPort(pod: PodObject, target: number | string, appPort: number): boolean {
  if (typeof target === "number" || /^[0-9]+$/.test(target)) return Number(target) === appPort;
  return (pod.spec?.containers ?? []).some((c) => (c.ports ?? []).some((p) => p.name === target && p.containerPort === appPort));
}

/**
 * Service ports (TCP) that select `pods` but lead to another port than their sidecar's inbound
 * one: traffic through them reaches the app without any of the policy's checks. A targetPort is
 * fine when it is the sidecar's port number or its port name (`bulwark-inbound`), or the app
 * port of a pod whose inbound traffic is intercepted (annotation `bulwark.dev/inbound-interception:
 * iptables`, set by the injector with the init container that redirects it to the sidecar); no
 * targetPort means the Service's port itself. Sorted by Service and port.
 */
export function sidecarBypasses(pods: readonly PodObject[], services: readonly ServiceObject[]): SidecarBypass[] {
  const found = new Map<string, SidecarBypass>();
  for (const pod of pods) {
    const ports = sidecarPorts(pod);
    if (!ports) continue;
    const namespace = namespaceOf(pod.metadata);
    const intercepted = pod.metadata.annotations?.[SidecarAnnotation.inboundInterception] === INTERCEPTED;
    for (const service of services) {
      if (namespaceOf(service.metadata) !== namespace || !labelsMatch(service.spec?.selector ?? {}, pod.metadata.labels)) continue;
      for (const p of service.spec?.ports ?? []) {
        if ((p.protocol ?? "TCP") !== "TCP") continue;
        const target = p.targetPort ?? p.port;
        if (target === ports.sidecarPort || target === SIDECAR_PORT_NAME || target === String(ports.sidecarPort)) continue;
        if (intercepted && isAppPort(pod, target, ports.appPort)) continue;
        found.set(`${service.metadata.name}\u0000${String(p.port).padStart(5, "0")}`, { service: service.metadata.name, port: p.port, targetPort: target });
      }
    }
  }
  return [...found.entries()].sort(([a], [b]) => compareStrings(a, b)).map(([, b]) => b);
}

/** The SidecarBypass condition (True, a warning) when some Service port bypasses the sidecar; none otherwise. */
export function sidecarBypassCondition(bypasses: readonly SidecarBypass[]): ConditionData | undefined {
  if (bypasses.length === 0) return undefined;
  const list = bypasses
    .slice(0, 5)
    .map((b) => `Service ${b.service} port ${b.port} targets ${typeof b.targetPort === "number" ? `port ${b.targetPort}` : `port name ${b.targetPort}`}`);
  const more = bypasses.length > 5 ? ` and ${bypasses.length - 5} more` : "";
  return {
    status: "True",
    reason: SidecarBypassReason,
    message: `${list.join("; ")}${more}: traffic through these ports reaches the app past the sidecar, without this policy's checks. Set their targetPort to ${SIDECAR_PORT_NAME}, or enable the chart's injector.networkPolicy to refuse it.`,
  };
}
