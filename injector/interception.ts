/**
 * Inbound interception, the injector's part: the init container that runs `bulwark intercept`
 * before any other container of the pod (so nothing ever listens on the app port un-intercepted),
 * and the rewrite of the kubelet's HTTP probes of the app port to the sidecar's probe listener
 * (the kubelet calls from the node, so its probes would otherwise meet the policy like any other
 * client, and a policy that refuses anonymous requests would keep the pod from ever being Ready).
 *
 * Trade-off: the init container runs as root with NET_ADMIN and NET_RAW (and nothing else), once,
 * before the app starts; Pod Security "baseline" and "restricted" refuse both capabilities, so in
 * namespaces that enforce them the pod is refused at admission. Those installations turn
 * interception off (chart `proxy.interception.enabled: false`) and close the app port with the
 * chart's NetworkPolicy instead (on a CNI that enforces it); the controller's SidecarBypass
 * warning keeps reporting Services that target the app port either way.
 */
import type { ProbeListener } from "../envoy/bootstrap/sidecar-bootstrap.js";

export const INTERCEPT_CONTAINER = "bulwark-intercept";
export const PROBE_PORT_NAME = "bulwark-probes";

export interface InterceptionConfig {
  /** The Bulwark image (its entrypoint is `bulwark`). */
  image: string;
  imagePullPolicy?: "Always" | "IfNotPresent" | "Never";
  /** The sidecar's probe listener (default 15021). */
  probePort: number;
}

/** The value of the pod annotation `bulwark.dev/inbound-interception` on intercepted pods. */
export const INTERCEPTION_MODE = "iptables";

export interface ProbeLike {
  httpGet?: { path?: string; port: number | string; scheme?: string; host?: string; httpHeaders?: { name: string; value: string }[] };
  [key: string]: unknown;
}

export interface ContainerLike {
  name: string;
  ports?: { containerPort: number; name?: string; protocol?: string }[];
  env?: { name: string }[];
  livenessProbe?: ProbeLike;
  readinessProbe?: ProbeLike;
  startupProbe?: ProbeLike;
}

/** The init container that programs the pod's network namespace (runs to completion, first). */
export function interceptContainer(config: InterceptionConfig, ports: { appPort: number; sidecarPort: number; proxyUid: number }): Record<string, unknown> {
  return {
    name: INTERCEPT_CONTAINER,
    image: config.image,
    ...(config.imagePullPolicy ? { imagePullPolicy: config.imagePullPolicy } : {}),
    args: ["intercept", "--app-port", String(ports.appPort), "--sidecar-port", String(ports.sidecarPort), "--proxy-uid", String(ports.proxyUid)],
    resources: { requests: { cpu: "10m", memory: "32Mi" }, limits: { memory: "128Mi" } },
    securityContext: {
      runAsUser: 0,
      runAsGroup: 0,
      runAsNonRoot: false,
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"], add: ["NET_ADMIN", "NET_RAW"] },
      seccompProfile: { type: "RuntimeDefault" },
    },
  };
}

const PROBES = ["livenessProbe", "readinessProbe", "startupProbe"] as const;

/** Whether `port` (a number or a container port's name) is the app port in `container`. */
function isAppPort(port: number | string, appPort: number, container: ContainerLike): boolean {
  if (typeof port === "number") return port === appPort;
  if (/^[0-9]+$/.test(port)) return Number(port) === appPort;
  return (container.ports ?? []).some((p) => p.name === port && p.containerPort === appPort);
}

/**
 * The JSON Patch replacing the app containers' HTTP probes of the app port (liveness, readiness,
 * startup) by the same probes of the sidecar's probe listener, and the paths that listener must
 * forward. HTTPS probes, probes of another host, and TCP and gRPC probes are left alone: TCP and
 * gRPC probes of the app port reach the sidecar's inbound listener (a TCP probe then checks that
 * the sidecar serves the app port; a gRPC probe goes through the policy).
 */
export function probeRewrites(
  containers: readonly ContainerLike[],
  appPort: number,
  probePort: number,
): { patch: { op: "replace"; path: string; value: unknown }[]; paths: string[] } {
  const patch: { op: "replace"; path: string; value: unknown }[] = [];
  const paths = new Set<string>();
  for (const [i, container] of containers.entries()) {
    for (const kind of PROBES) {
      const probe = container[kind];
      const http = probe?.httpGet;
      if (!probe || !http || (http.scheme ?? "HTTP").toUpperCase() !== "HTTP" || http.host !== undefined || !isAppPort(http.port, appPort, container)) continue;
      const path = http.path && http.path.startsWith("/") ? http.path : `/${http.path ?? ""}`;
      paths.add(path);
      patch.push({ op: "replace", path: `/spec/containers/${i}/${kind}`, value: { ...probe, httpGet: { ...http, path, port: probePort } } });
    }
  }
  return { patch, paths: [...paths].sort() };
}

/** The probe listener of the sidecar's bootstrap, or undefined when no probe was rewritten. */
export function probeListener(paths: readonly string[], appPort: number, probePort: number): ProbeListener | undefined {
  return paths.length > 0 ? { port: probePort, appPort, paths } : undefined;
}
