import { isJsonObject, type JsonObject, type JsonValue } from "../json.js";
import type { NamedResource, SidecarResources } from "../build/resources.js";
import { TypeUrl } from "../type-urls.js";
import { compareStrings } from "../../common/order.js";

/** PEM material for secrets the resources refer to over SDS but that are not among `resources.secrets`. */
export interface PlaceholderPems {
  certificateChain: string;
  privateKey: string;
  /** CA certificates for validation contexts. */
  trustedCa: string;
}

export interface StandaloneBootstrapOptions {
  /** Admin port on 127.0.0.1; 0 (the default) lets the kernel choose. */
  adminPort?: number;
  nodeId?: string;
  nodeCluster?: string;
  placeholders?: PlaceholderPems;
}

type SecretKind = "tls_certificate" | "validation_context";

const SECRET_REFERENCES: Record<string, SecretKind> = {
  tls_certificate_sds_secret_configs: "tls_certificate",
  validation_context_sds_secret_config: "validation_context",
};

/** The resource without its `@type`: how it sits inside a bootstrap. */
function bare(resource: JsonObject): JsonObject {
  const { "@type": _type, ...rest } = resource;
  return rest;
}

function byNameOf(resources: readonly NamedResource[]): Map<string, JsonObject> {
  return new Map(resources.map((r) => [r.name, r.resource]));
}

interface Inlining {
  routes: Map<string, JsonObject>;
  /** Secrets referenced over SDS, by name, with the kind the reference expects. */
  secrets: Map<string, SecretKind>;
}

/** A copy of `value` with RDS replaced by the route configuration and SDS references made static. */
function inline(value: JsonValue, state: Inlining, secretKind?: SecretKind): JsonValue {
  if (Array.isArray(value)) return value.map((item) => inline(item, state, secretKind));
  if (!isJsonObject(value)) return value;
  if (secretKind && typeof value.name === "string" && "sds_config" in value) {
    state.secrets.set(value.name, secretKind);
    return { name: value.name };
  }
  const out: JsonObject = {};
  for (const [key, child] of Object.entries(value)) {
    if (key === "rds" && value["@type"] === TypeUrl.httpConnectionManager && isJsonObject(child)) {
      const name = typeof child.route_config_name === "string" ? child.route_config_name : "";
      const routes = state.routes.get(name);
      if (!routes) throw new Error(`the connection manager refers to route configuration ${name}, which the resources do not contain`);
      out.route_config = bare(routes);
      continue;
    }
    out[key] = inline(child, state, SECRET_REFERENCES[key]);
  }
  return out;
}

function staticCluster(cluster: JsonObject, endpoints: Map<string, JsonObject>): JsonObject {
  if (cluster.type !== "EDS") return bare(cluster);
  const name = typeof cluster.name === "string" ? cluster.name : "";
  const assignment = endpoints.get(name);
  if (!assignment) throw new Error(`EDS cluster ${name} has no ClusterLoadAssignment among the endpoints`);
  const { eds_cluster_config: _eds, ...rest } = bare(cluster);
  return { ...rest, type: "STATIC", load_assignment: bare(assignment) };
}

function placeholderSecret(name: string, kind: SecretKind, pems: PlaceholderPems | undefined): JsonObject {
  if (!pems) throw new Error(`secret ${name} is referenced over SDS but is neither among the resources nor given as a placeholder`);
  if (kind === "tls_certificate") {
    return { name, tls_certificate: { certificate_chain: { inline_string: pems.certificateChain }, private_key: { inline_string: pems.privateKey } } };
  }
  return { name, validation_context: { trusted_ca: { inline_string: pems.trustedCa } } };
}

/**
 * A bootstrap that carries a sidecar's resources statically, for `envoy --mode validate` and for
 * serving tests: route configurations inline in their connection managers instead of RDS, EDS
 * clusters as STATIC clusters with their load assignment, SDS references to static secrets
 * (taken from `resources.secrets`, else placeholders from `options`). Pure: nothing is read,
 * generated or written here.
 */
export function standaloneBootstrap(resources: SidecarResources, options: StandaloneBootstrapOptions = {}): JsonObject {
  const state: Inlining = { routes: byNameOf(resources.routes), secrets: new Map() };
  const listeners = resources.listeners.map((l) => bare(inline(l.resource, state) as JsonObject));
  const endpoints = byNameOf(resources.endpoints);
  const clusters = resources.clusters.map((c) => staticCluster(inline(c.resource, state) as JsonObject, endpoints));
  const supplied = byNameOf(resources.secrets);
  const secrets = [...state.secrets.entries()]
    .sort(([a], [b]) => compareStrings(a, b))
    .map(([name, kind]) => {
      const secret = supplied.get(name);
      return secret ? bare(secret) : placeholderSecret(name, kind, options.placeholders);
    });
  return {
    node: { id: options.nodeId ?? "bulwark-static", cluster: options.nodeCluster ?? "bulwark" },
    admin: { address: { socket_address: { address: "127.0.0.1", port_value: options.adminPort ?? 0 } } },
    static_resources: { listeners, clusters, ...(secrets.length > 0 ? { secrets } : {}) },
  };
}
