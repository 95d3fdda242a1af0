import { sidecarNodeIdOf } from "../../contract/wire.js";

/**
 * The Kubernetes objects translation reads, as plain data (what the API server returns as JSON
 * and what `bulwark render` reads from YAML). Only the fields translation uses are typed.
 */
export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  creationTimestamp?: string | Date;
  deletionTimestamp?: string | Date;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface ServiceObject {
  apiVersion?: string;
  kind?: "Service";
  metadata: ObjectMeta;
  spec?: { selector?: Record<string, string>; ports?: { port: number; name?: string; protocol?: string; targetPort?: number | string }[]; publishNotReadyAddresses?: boolean };
}

export interface PodObject {
  apiVersion?: string;
  kind?: "Pod";
  metadata: ObjectMeta;
  /**
   * The service account is the pod's mesh identity (`spiffe://<td>/ns/<ns>/sa/<sa>`); the
   * containers' named ports are what a Service's named targetPort reaches.
   */
  spec?: { serviceAccountName?: string; containers?: { ports?: { name?: string; containerPort: number; protocol?: string }[] }[] };
  /** The pod's IP is where peers reach its sidecar (mesh endpoints). */
  status?: { phase?: string; podIP?: string; conditions?: { type: string; status: string }[] };
}

export interface SecretObject {
  apiVersion?: string;
  kind?: "Secret";
  metadata: ObjectMeta;
  /** `kubernetes.io/tls` for a certificate and its key (tls.crt, tls.key); absent means Opaque. */
  type?: string;
  /** Base64-encoded values. */
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

/**
 * What OpenID Connect Discovery found for one issuer (fetched at the edge: operator/oidc/):
 * the `jwks_uri` of its last good discovery document, or why there is none yet.
 */
export type DiscoveredIssuer = { jwksUri: string } | { error: string };

/** Everything one translation reads. `now` is an input, so translation never reads a clock. */
export interface TranslationInput {
  /** APISecurityPolicy objects as read (validated during resolution). */
  policies: unknown[];
  services: ServiceObject[];
  pods: PodObject[];
  secrets: SecretObject[];
  /**
   * OpenID Connect Discovery results by issuer, for providers with jwks.oidcDiscovery. An issuer
   * absent here has not been fetched yet: its tokens are refused.
   */
  oidcDiscovery?: Readonly<Record<string, DiscoveredIssuer>>;
  /** RFC 3339 instant the translation is for (deprecation and sunset windows depend on it). */
  now: string;
}

/** Annotations the sidecar injector puts on a pod; a pod without them has no sidecar. */
export const SidecarAnnotation = {
  /** Port the Envoy sidecar listens on for inbound traffic (what the Service's targetPort reaches). */
  sidecarPort: "bulwark.dev/sidecar-port",
  /** Port the application listens on, on loopback, behind the sidecar. */
  appPort: "bulwark.dev/app-port",
  /**
   * Port of the sidecar's egress proxy on loopback (the app's HTTP_PROXY); absent: 15001. Only
   * served when mesh identity is enabled.
   */
  outboundPort: "bulwark.dev/outbound-port",
  /** `enabled`: the pod's app uses the egress proxy (the injector sets HTTP_PROXY), so its sidecar gets the mesh's destinations. */
  egressProxy: "bulwark.dev/egress-proxy",
  /** Optional, with egressProxy: the only mesh Services it reaches, `<ns>/<svc>` or `<ns>/*`, comma-separated. */
  egressServices: "bulwark.dev/egress-services",
  /**
   * `iptables`: the injector's init container redirects inbound TCP to the app port to the
   * sidecar, so a Service targeting the app port goes through the sidecar too. Absent: pods
   * injected without interception (or before it existed), whose app port is reachable directly.
   */
  inboundInterception: "bulwark.dev/inbound-interception",
} as const;

/** The egress proxy's port when a pod does not name one. */
export const DEFAULT_OUTBOUND_PORT = 15001;

export function namespaceOf(meta: ObjectMeta): string {
  return meta.namespace ?? "default";
}

export function objectKey(meta: ObjectMeta): string {
  return `${namespaceOf(meta)}/${meta.name}`;
}

/** Node ids by pod object (objects are treated as immutable, as the watch cache treats them): one string per pod, not one per lookup. */
const nodeIds = new WeakMap<PodObject, string>();

/** The Envoy node id of a pod's sidecar. */
export function sidecarNodeId(pod: PodObject): string {
  let id = nodeIds.get(pod);
  if (id === undefined) {
    id = sidecarNodeIdOf(pod.metadata.name, namespaceOf(pod.metadata));
    nodeIds.set(pod, id);
  }
  return id;
}

function toIso(value: string | Date | undefined): string {
  if (value === undefined) return "";
  return typeof value === "string" ? value : value.toISOString();
}

export function creationTime(meta: ObjectMeta): string {
  return toIso(meta.creationTimestamp);
}
