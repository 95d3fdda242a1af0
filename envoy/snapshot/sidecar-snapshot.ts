import type { JsonObject, JsonValue } from "../json.js";
import { encodeResource } from "../proto/encode.js";
import type { NamedResource, SidecarResources } from "../build/resources.js";
import { makeSnapshot, type ResourceInput, type ResourceRef, type Snapshot } from "./snapshot.js";
import { XdsType } from "../type-urls.js";

function visit(value: JsonValue, fn: (object: JsonObject) => void): void {
  if (Array.isArray(value)) {
    for (const item of value) visit(item, fn);
  } else if (value !== null && typeof value === "object") {
    fn(value);
    for (const child of Object.values(value)) visit(child, fn);
  }
}

/** What a resource needs from other xDS types: RDS route configurations, SDS secrets, EDS endpoint sets. */
export function referencesOf(typeUrl: XdsType, resource: JsonObject): ResourceRef[] {
  const refs: ResourceRef[] = [];
  visit(resource, (object) => {
    const rds = object.rds;
    if (rds && typeof rds === "object" && !Array.isArray(rds) && typeof rds.route_config_name === "string") refs.push({ typeUrl: XdsType.Route, name: rds.route_config_name });
    for (const key of ["tls_certificate_sds_secret_configs", "validation_context_sds_secret_config"]) {
      const configs = object[key];
      for (const config of Array.isArray(configs) ? configs : configs ? [configs] : []) {
        if (config && typeof config === "object" && !Array.isArray(config) && typeof config.name === "string" && config.sds_config)
          refs.push({ typeUrl: XdsType.Secret, name: config.name });
      }
    }
  });
  if (typeUrl === XdsType.Cluster && resource.type === "EDS") {
    const eds = resource.eds_cluster_config;
    const serviceName = eds && typeof eds === "object" && !Array.isArray(eds) && typeof eds.service_name === "string" ? eds.service_name : undefined;
    refs.push({ typeUrl: XdsType.Endpoints, name: serviceName ?? (typeof resource.name === "string" ? resource.name : "") });
  }
  return refs;
}

/** Encodes a sidecar's resources into a snapshot, with the references the cache checks. */
export function sidecarSnapshot(resources: SidecarResources): Snapshot {
  const inputs: ResourceInput[] = [];
  const add = (typeUrl: XdsType, list: readonly NamedResource[]): void => {
    for (const r of list) inputs.push({ typeUrl, name: r.name, body: encodeResource(r.resource), references: referencesOf(typeUrl, r.resource) });
  };
  add(XdsType.Listener, resources.listeners);
  add(XdsType.Route, resources.routes);
  add(XdsType.Cluster, resources.clusters);
  add(XdsType.Endpoints, resources.endpoints);
  add(XdsType.Secret, resources.secrets);
  return makeSnapshot(inputs);
}
