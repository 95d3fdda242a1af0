import type { JsonObject } from "../json.js";
import { compareStrings } from "../../common/order.js";

/** One xDS resource: its name and its proto3-JSON form, `@type` included. */
export interface NamedResource {
  name: string;
  resource: JsonObject;
}

/** What one sidecar needs, per xDS type, each list sorted by name. */
export interface SidecarResources {
  listeners: NamedResource[];
  routes: NamedResource[];
  clusters: NamedResource[];
  endpoints: NamedResource[];
  secrets: NamedResource[];
}

/** Names of the resources every sidecar configuration refers to. */
export const NAMES = {
  listener: "inbound",
  routeConfiguration: "inbound",
  appCluster: "app",
  authzCluster: "bulwark-authz",
  ratelimitCluster: "bulwark-ratelimit",
  telemetryCluster: "bulwark-telemetry",
  workloadCertificate: "workload-cert",
  trustBundle: "trust-bundle",
} as const;

export function byName(resources: readonly NamedResource[]): NamedResource[] {
  return [...resources].sort((a, b) => compareStrings(a.name, b.name));
}
