import { createHash } from "node:crypto";
import type { AppAttestationIR, AuthzChecksIR, IR, MinAppVersionIR, RouteChecksIR, SenderConstraintIR } from "../ir/types.js";

/** Everything authz needs to decide a request on one route: the route's checks and its workload's settings. */
export interface RouteConfig {
  name: string;
  authentication: RouteChecksIR["authentication"];
  checks: AuthzChecksIR;
  senderConstraint?: SenderConstraintIR;
  appAttestation?: AppAttestationIR;
  minAppVersion?: MinAppVersionIR;
}

/** An immutable table of routes, swapped whole when the configuration changes. */
export interface RouteTable {
  /** Content hash: an unchanged translation gives the same version. */
  version: string;
  routes: ReadonlyMap<string, RouteConfig>;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/**
 * IR → route table: one entry per route whose checks need authz, keyed by the route name Envoy
 * sends in the `bulwark.dev/route` context extension. Pure. Routes of the same policy on several
 * ports carry the same name and the same configuration; the first one is kept.
 */
export function buildRouteTable(ir: IR): RouteTable {
  const routes = new Map<string, RouteConfig>();
  for (const workload of ir.workloads) {
    for (const route of workload.routes) {
      if (route.action.kind !== "forward" || !route.action.checks.authz || routes.has(route.name)) continue;
      const config: RouteConfig = {
        name: route.name,
        authentication: route.action.checks.authentication,
        checks: structuredClone(route.action.checks.authz),
        ...(workload.senderConstraint ? { senderConstraint: structuredClone(workload.senderConstraint) } : {}),
        ...(workload.appAttestation ? { appAttestation: structuredClone(workload.appAttestation) } : {}),
        ...(workload.minAppVersion ? { minAppVersion: structuredClone(workload.minAppVersion) } : {}),
      };
      routes.set(route.name, deepFreeze(config));
    }
  }
  const sorted = [...routes.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const version = createHash("sha256").update(JSON.stringify(sorted)).digest("hex").slice(0, 16);
  return Object.freeze({ version, routes });
}

/** Holds the current table; readers take one table per request, so a swap never splits a decision. */
export class RouteTableHolder {
  private table: RouteTable | undefined;

  current(): RouteTable | undefined {
    return this.table;
  }

  /** Returns true when the version changed. */
  swap(next: RouteTable): boolean {
    if (this.table?.version === next.version) return false;
    this.table = next;
    return true;
  }
}
