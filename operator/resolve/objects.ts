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
  spec?: { selector?: Record<string, string> };
}

export interface PodObject {
  apiVersion?: string;
  kind?: "Pod";
  metadata: ObjectMeta;
  status?: { phase?: string };
}

export interface SecretObject {
  apiVersion?: string;
  kind?: "Secret";
  metadata: ObjectMeta;
  /** Base64-encoded values. */
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

export interface NamespaceObject {
  apiVersion?: string;
  kind?: "Namespace";
  metadata: ObjectMeta;
}

/** Everything one translation reads. `now` is an input, so translation never reads a clock. */
export interface TranslationInput {
  /** APISecurityPolicy objects as read (validated during resolution). */
  policies: unknown[];
  services: ServiceObject[];
  pods: PodObject[];
  secrets: SecretObject[];
  namespaces: NamespaceObject[];
  /** RFC 3339 instant the translation is for (deprecation and sunset windows depend on it). */
  now: string;
}

/** Annotations the sidecar injector puts on a pod; a pod without them has no sidecar. */
export const SidecarAnnotation = {
  /** Port the Envoy sidecar listens on for inbound traffic (what the Service's targetPort reaches). */
  sidecarPort: "bulwark.dev/sidecar-port",
  /** Port the application listens on, on loopback, behind the sidecar. */
  appPort: "bulwark.dev/app-port",
} as const;

export function namespaceOf(meta: ObjectMeta): string {
  return meta.namespace ?? "default";
}

export function objectKey(meta: ObjectMeta): string {
  return `${namespaceOf(meta)}/${meta.name}`;
}

/** The Envoy node id of a pod's sidecar. */
export function sidecarNodeId(pod: PodObject): string {
  return `${pod.metadata.name}.${namespaceOf(pod.metadata)}`;
}

function toIso(value: string | Date | undefined): string {
  if (value === undefined) return "";
  return typeof value === "string" ? value : value.toISOString();
}

export function creationTime(meta: ObjectMeta): string {
  return toIso(meta.creationTimestamp);
}
