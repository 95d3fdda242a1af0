/**
 * Sidecar injection, pure: what a pod becomes when it opts in. The Envoy sidecar is a native
 * sidecar (an init container with `restartPolicy: Always`): it starts before the app and stops
 * after it. Its bootstrap travels in its arguments (`--config-yaml`, no ConfigMap); the pod's
 * name, namespace and service account reach it through the downward API and Kubernetes'
 * `$(VAR)` expansion of arguments, so the node id is `<pod>.<namespace>`.
 *
 * How inbound traffic reaches the app only through Envoy: Envoy listens on the sidecar port
 * (named `bulwark-inbound`) on every interface and forwards to 127.0.0.1 at the app port. With
 * interception (the default; interception.ts), an init container redirects inbound TCP to the
 * app port to the sidecar before any other container starts, so the app may bind every address
 * and a Service may target either port. Without it (an installation that cannot grant the init
 * container NET_ADMIN), the app must listen on 127.0.0.1 only, or a NetworkPolicy that admits only
 * the sidecar port (the chart's `injector.networkPolicy`) must close the app port.
 *
 * How outbound traffic reaches peers over mTLS: no iptables. Envoy's egress proxy listens on
 * 127.0.0.1 at the outbound port (default 15001, annotation `bulwark.dev/outbound-port`); an app
 * uses it as its HTTP proxy, so a proxy-aware HTTP client sends
 * `GET http://orders.shop.svc.cluster.local/...` to the sidecar, which opens mTLS to the
 * destination's sidecar. Hosts that are not mesh Services get a 404 from the proxy, so the
 * injector sets `HTTP_PROXY`/`http_proxy` (`NO_PROXY`/`no_proxy`: loopback) on the app's
 * containers only when the pod asks for it (annotation `bulwark.dev/egress-proxy: "enabled"`):
 * set for every pod, it would break plain-HTTP calls outside the mesh (an external API, the cloud
 * metadata server). HTTPS (HTTPS_PROXY is not set) and variables a container sets itself are left alone.
 *
 * How the sidecar proves who it is to the controller: a projected ServiceAccount token with
 * Bulwark's audience (`bulwark.dev/xds` by default), bound to the pod and valid for 10 minutes
 * (the kubelet renews the file before it expires), mounted only into the proxy container. Envoy
 * sends it on every ADS stream over TLS, verifying the controller's certificate with the xDS CA
 * the injector puts in the bootstrap; the controller checks it with TokenReview and serves the
 * stream only this pod's configuration and its ServiceAccount's certificate.
 *
 * A second projected token, of the telemetry audience (`bulwark.dev/telemetry`), also bound to the
 * pod and mounted only into the proxy, is what the sidecar presents to bulwark telemetry, which
 * binds the stream to this pod. Mounted in every pod, not only where a policy asks for telemetry:
 * whether the sidecar streams comes over xDS and may change after the pod started (a policy gains
 * spec.telemetry, the installation turns telemetry on), and a pod's volumes cannot. Its own
 * audience, so neither receiver can replay what it sees to the other.
 */
import { sidecarNodeIdOf } from "../contract/wire.js";
import { sidecarArgs, sidecarBootstrap, type ProbeListener } from "../envoy/bootstrap/sidecar-bootstrap.js";
import { XDS_TOKEN_AUDIENCE } from "../operator/kube/xds-authentication.js";
import { TELEMETRY_TOKEN_AUDIENCE, TelemetryToken } from "../contract/telemetry.js";
import { SidecarAnnotation } from "../operator/resolve/objects.js";
import {
  INTERCEPT_CONTAINER,
  INTERCEPTION_MODE,
  interceptContainer,
  PROBE_PORT_NAME,
  probeListener,
  probeRewrites,
  type ContainerLike,
  type InterceptionConfig,
} from "./interception.js";

export const PROXY_CONTAINER = "bulwark-proxy";
/** The label of injected pods (what the chart's optional NetworkPolicy selects). */
export const InjectedLabel = { key: "bulwark.dev/sidecar", value: "injected" } as const;
export const INBOUND_PORT_NAME = "bulwark-inbound";

/** The label (namespace or pod) that opts in, and the pod annotation that opts out. */
export const InjectLabel = { key: "bulwark.dev/inject", enabled: "enabled" } as const;
export const InjectAnnotation = { key: "bulwark.dev/inject", disabled: "false" } as const;
/** The pod annotation that points the app's containers at the egress proxy (HTTP_PROXY). */
export const EgressProxyAnnotation = { key: "bulwark.dev/egress-proxy", enabled: "enabled" } as const;

export interface InjectorConfig {
  /** The Envoy image (repository:tag, no registry implied). */
  image: string;
  imagePullPolicy?: "Always" | "IfNotPresent" | "Never";
  /**
   * The controller's xDS Service, as sidecars reach it; the CA (PEM) that issued its serving
   * certificate; the audience of the token sidecars present (default bulwark.dev/xds).
   */
  xds: { host: string; port: number; delta?: boolean; caPem: string; tokenAudience?: string };
  /** Envoy's inbound port (default 15006). */
  sidecarPort: number;
  /** Envoy's admin port, on loopback (default 15000). */
  adminPort: number;
  /** Envoy's egress proxy port, on loopback: the app's HTTP_PROXY (default 15001). */
  outboundPort: number;
  resources: { requests: { cpu: string; memory: string }; limits: { memory: string } };
  /** Envoy's user id (the official image's `envoy` user is 101). */
  runAsUser: number;
  /** Inbound interception (interception.ts); absent: off, the app port is closed some other way. */
  interception?: InterceptionConfig;
}

/** The projected token the proxy presents to the controller. */
export const XdsToken = {
  volume: "bulwark-xds-token",
  directory: "/var/run/secrets/bulwark.dev/xds",
  file: "token",
  /** The shortest lifetime the API server grants; the kubelet renews the file at 80% of it. */
  expirationSeconds: 600,
} as const;

export const DEFAULT_INJECTOR_CONFIG: Omit<InjectorConfig, "image" | "xds"> = {
  sidecarPort: 15006,
  adminPort: 15000,
  outboundPort: 15001,
  resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { memory: "256Mi" } },
  runAsUser: 101,
};

export interface PodLike {
  metadata?: { name?: string; generateName?: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: {
    serviceAccountName?: string;
    hostNetwork?: boolean;
    containers?: ContainerLike[];
    initContainers?: { name: string }[];
    volumes?: { name: string }[];
  };
}

export type JsonPatchOp = { op: "add" | "replace"; path: string; value: unknown };

export type InjectionDecision = { inject: true; patch: JsonPatchOp[]; appPort: number } | { inject: false; reason: string; warning?: string };

function pointer(key: string): string {
  return key.replace(/~/g, "~0").replace(/\//g, "~1");
}

function port(value: string | undefined): number | undefined {
  if (value === undefined || !/^[0-9]{1,5}$/.test(value)) return undefined;
  const n = Number(value);
  return n >= 1 && n <= 65535 ? n : undefined;
}

/** The app's port: its annotation, else the first TCP port the app's first container declares. */
function appPortOf(pod: PodLike): number | undefined {
  const annotated = pod.metadata?.annotations?.[SidecarAnnotation.appPort];
  if (annotated !== undefined) return port(annotated);
  const first = pod.spec?.containers?.[0]?.ports?.find((p) => (p.protocol ?? "TCP") === "TCP");
  return first?.containerPort;
}

/**
 * The sidecar container: Envoy with Bulwark's bootstrap, passed inline; with `probes`, its
 * static listener for the kubelet's probes of the app (interception.ts).
 */
export function proxyContainer(config: InjectorConfig, probes?: ProbeListener): Record<string, unknown> {
  const bootstrap = sidecarBootstrap({
    node: {
      id: sidecarNodeIdOf("$(POD_NAME)", "$(POD_NAMESPACE)"),
      cluster: "$(POD_NAMESPACE)/$(SERVICE_ACCOUNT)",
      metadata: { namespace: "$(POD_NAMESPACE)", pod: "$(POD_NAME)", serviceAccount: "$(SERVICE_ACCOUNT)" },
    },
    xds: {
      host: config.xds.host,
      port: config.xds.port,
      ...(config.xds.delta !== undefined ? { delta: config.xds.delta } : {}),
      tls: { caPem: config.xds.caPem },
      tokenFile: `${XdsToken.directory}/${XdsToken.file}`,
    },
    admin: { port: config.adminPort },
    ...(probes ? { probes } : {}),
  });
  const flags = sidecarArgs("-");
  // sidecarArgs names a config file first; the bootstrap goes inline instead.
  const rest = flags[0] === "--config-path" ? flags.slice(2) : flags;
  const field = (fieldPath: string): Record<string, unknown> => ({ valueFrom: { fieldRef: { fieldPath } } });
  return {
    name: PROXY_CONTAINER,
    image: config.image,
    ...(config.imagePullPolicy ? { imagePullPolicy: config.imagePullPolicy } : {}),
    restartPolicy: "Always",
    command: ["envoy"],
    args: ["--config-yaml", JSON.stringify(bootstrap), ...rest, "--log-level", "warn"],
    env: [
      { name: "POD_NAME", ...field("metadata.name") },
      { name: "POD_NAMESPACE", ...field("metadata.namespace") },
      { name: "SERVICE_ACCOUNT", ...field("spec.serviceAccountName") },
    ],
    ports: [
      { name: INBOUND_PORT_NAME, containerPort: config.sidecarPort, protocol: "TCP" },
      ...(probes ? [{ name: PROBE_PORT_NAME, containerPort: probes.port, protocol: "TCP" }] : []),
    ],
    volumeMounts: [
      { name: XdsToken.volume, mountPath: XdsToken.directory, readOnly: true },
      { name: TelemetryToken.volume, mountPath: TelemetryToken.directory, readOnly: true },
    ],
    resources: config.resources,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: config.runAsUser,
      runAsGroup: config.runAsUser,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    },
  };
}

/** The pod volume of the proxy's token: bound to the pod, Bulwark's audience, short-lived. */
export function xdsTokenVolume(config: Pick<InjectorConfig, "xds">): Record<string, unknown> {
  return {
    name: XdsToken.volume,
    projected: {
      sources: [{ serviceAccountToken: { audience: config.xds.tokenAudience ?? XDS_TOKEN_AUDIENCE, expirationSeconds: XdsToken.expirationSeconds, path: XdsToken.file } }],
    },
  };
}

/** The pod volume of the token the proxy presents to bulwark telemetry: bound to the pod, the telemetry audience, short-lived. */
export function telemetryTokenVolume(): Record<string, unknown> {
  return {
    name: TelemetryToken.volume,
    projected: {
      sources: [{ serviceAccountToken: { audience: TELEMETRY_TOKEN_AUDIENCE, expirationSeconds: TelemetryToken.expirationSeconds, path: TelemetryToken.file } }],
    },
  };
}

/** The egress proxy's variables for the app's containers (those a container sets itself are kept). */
export function proxyVariables(config: Pick<InjectorConfig, "outboundPort">): { name: string; value: string }[] {
  const proxy = `http://127.0.0.1:${config.outboundPort}`;
  const direct = "localhost,127.0.0.1,::1";
  return [
    { name: "HTTP_PROXY", value: proxy },
    { name: "http_proxy", value: proxy },
    { name: "NO_PROXY", value: direct },
    { name: "no_proxy", value: direct },
  ];
}

function proxyEnvironment(pod: PodLike, config: InjectorConfig): JsonPatchOp[] {
  const ops: JsonPatchOp[] = [];
  for (const [i, container] of (pod.spec?.containers ?? []).entries()) {
    const own = new Set((container.env ?? []).map((e) => e.name));
    const missing = proxyVariables(config).filter((v) => !own.has(v.name));
    if (missing.length === 0) continue;
    if (!container.env) ops.push({ op: "add", path: `/spec/containers/${i}/env`, value: missing });
    else for (const v of missing) ops.push({ op: "add", path: `/spec/containers/${i}/env/-`, value: v });
  }
  return ops;
}

/**
 * Whether and how to inject `pod`. The webhook's selectors already limit calls to pods that
 * opted in (labelled namespace or pod); here: the opt-out annotation, pods injected already
 * (idempotence: a second admission changes nothing), and pods without a usable app port.
 */
export function decideInjection(pod: PodLike, config: InjectorConfig): InjectionDecision {
  const annotations = pod.metadata?.annotations ?? {};
  if (annotations[InjectAnnotation.key] === InjectAnnotation.disabled) return { inject: false, reason: `annotation ${InjectAnnotation.key}: "false"` };
  const names = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].map((c) => c.name);
  // Pods injected before (with or without interception) are left as they are: upgrades never re-inject.
  if (names.includes(PROXY_CONTAINER)) return { inject: false, reason: "already injected" };
  if (names.includes(INTERCEPT_CONTAINER)) {
    return { inject: false, reason: "container name taken", warning: `bulwark: no sidecar injected: the pod already has a container named ${INTERCEPT_CONTAINER}` };
  }
  if (config.interception && pod.spec?.hostNetwork) {
    // Interception would rewrite the node's own firewall; and the node's ports are no pod's to take.
    return {
      inject: false,
      reason: "host network",
      warning: "bulwark: no sidecar injected: the pod uses the host's network, where inbound interception would redirect the node's traffic",
    };
  }
  const appPort = appPortOf(pod);
  if (appPort === undefined) {
    const warning = `bulwark: no sidecar injected: the pod declares no app port (annotation ${SidecarAnnotation.appPort} or a TCP containerPort)`;
    return { inject: false, reason: "no app port", warning };
  }
  if (appPort === config.sidecarPort) {
    return { inject: false, reason: "app port is the sidecar port", warning: `bulwark: no sidecar injected: the app port ${appPort} is the sidecar's inbound port` };
  }
  if (appPort === config.outboundPort || appPort === config.adminPort || appPort === config.interception?.probePort) {
    return { inject: false, reason: "app port is a sidecar port", warning: `bulwark: no sidecar injected: the app port ${appPort} is the sidecar's egress, admin or probe port` };
  }
  const patch: JsonPatchOp[] = [];
  if (!pod.metadata?.labels) patch.push({ op: "add", path: "/metadata/labels", value: {} });
  patch.push({ op: "add", path: `/metadata/labels/${pointer(InjectedLabel.key)}`, value: InjectedLabel.value });
  if (!pod.metadata?.annotations) patch.push({ op: "add", path: "/metadata/annotations", value: {} });
  patch.push({ op: "add", path: `/metadata/annotations/${pointer(SidecarAnnotation.sidecarPort)}`, value: String(config.sidecarPort) });
  patch.push({ op: "add", path: `/metadata/annotations/${pointer(SidecarAnnotation.appPort)}`, value: String(appPort) });
  patch.push({ op: "add", path: `/metadata/annotations/${pointer(SidecarAnnotation.outboundPort)}`, value: String(config.outboundPort) });
  if (config.interception) patch.push({ op: "add", path: `/metadata/annotations/${pointer(SidecarAnnotation.inboundInterception)}`, value: INTERCEPTION_MODE });
  if (annotations[EgressProxyAnnotation.key] === EgressProxyAnnotation.enabled) patch.push(...proxyEnvironment(pod, config));
  const taken = pod.spec?.volumes?.find((v) => v.name === XdsToken.volume || v.name === TelemetryToken.volume);
  if (taken) return { inject: false, reason: "volume name taken", warning: `bulwark: no sidecar injected: the pod already has a volume named ${taken.name}` };
  const volumes = [xdsTokenVolume(config), telemetryTokenVolume()];
  if (pod.spec?.volumes) patch.push(...volumes.map((value) => ({ op: "add" as const, path: "/spec/volumes/-", value })));
  else patch.push({ op: "add", path: "/spec/volumes", value: volumes });
  const rewrites = config.interception ? probeRewrites(pod.spec?.containers ?? [], appPort, config.interception.probePort) : { patch: [], paths: [] };
  patch.push(...rewrites.patch);
  const proxy = proxyContainer(config, config.interception ? probeListener(rewrites.paths, appPort, config.interception.probePort) : undefined);
  // The interception first (nothing runs before the app port is closed), then the sidecar: the
  // other init containers may already need the network.
  const first = config.interception ? [interceptContainer(config.interception, { appPort, sidecarPort: config.sidecarPort, proxyUid: config.runAsUser }), proxy] : [proxy];
  if (pod.spec?.initContainers && pod.spec.initContainers.length > 0) {
    for (const container of [...first].reverse()) patch.push({ op: "add", path: "/spec/initContainers/0", value: container });
  } else patch.push({ op: "add", path: "/spec/initContainers", value: first });
  return { inject: true, patch, appPort };
}
