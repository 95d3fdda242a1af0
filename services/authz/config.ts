import { createHash } from "node:crypto";
import type { ApiKeysIR, AppAttestationIR, AuthzChecksIR, IR, JwtProviderIR, MinAppVersionIR, RouteChecksIR, SenderConstraintIR } from "../../contract/ir.js";
import type { TokenAgeLimit } from "./token-age.js";
import type { AdaptiveRouteConfig } from "./adaptive-check.js";
import { compareStrings } from "../../common/order.js";

/** Everything authz needs to decide a request on one route: the route's checks and its workload's settings. */
export interface RouteConfig {
  name: string;
  authentication: RouteChecksIR["authentication"];
  checks: AuthzChecksIR;
  senderConstraint?: SenderConstraintIR;
  appAttestation?: AppAttestationIR;
  minAppVersion?: MinAppVersionIR;
  /** The workload's partner API keys (digests), when the route checks one. */
  apiKeys?: ApiKeysIR;
  /** maxTokenAge of the workload's JWT providers that have one (sorted by issuer), when the route checks token age. */
  tokenAge?: TokenAgeLimit[];
  /** The workload's adaptive response and its policy, when the route's checks have `adaptive`. */
  adaptive?: AdaptiveRouteConfig;
}

/** An immutable table of routes, swapped whole when the configuration changes. */
export interface RouteTable {
  /** Content hash: an unchanged translation gives the same version. */
  version: string;
  routes: ReadonlyMap<string, RouteConfig>;
}

function tokenAgeLimits(providers: readonly JwtProviderIR[]): TokenAgeLimit[] {
  return providers
    .flatMap((p) => (p.maxLifetimeSeconds === undefined ? [] : [{ issuer: p.issuer, maxAgeSeconds: p.maxLifetimeSeconds, clockSkewSeconds: p.clockSkewSeconds }]))
    .sort((a, b) => compareStrings(a.issuer, b.issuer) || a.maxAgeSeconds - b.maxAgeSeconds);
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
        ...(route.action.checks.authz.tokenAge ? { tokenAge: tokenAgeLimits(workload.jwtProviders) } : {}),
        ...(route.action.checks.authz.apiKey && workload.apiKeys ? { apiKeys: structuredClone(workload.apiKeys) } : {}),
        ...(route.action.checks.authz.adaptive && workload.adaptive && workload.policy
          ? { adaptive: { ...structuredClone(workload.adaptive), policy: { namespace: workload.policy.namespace, name: workload.policy.name } } }
          : {}),
      };
      routes.set(route.name, deepFreeze(config));
    }
  }
  const sorted = [...routes.values()].sort((a, b) => compareStrings(a.name, b.name));
  const version = createHash("sha256").update(JSON.stringify(sorted)).digest("hex").slice(0, 16);
  return Object.freeze({ version, routes });
}

/** Holds the current table; readers take one table per request, so a swap never splits a decision. */
export class RouteTableHolder {
  private table: RouteTable | undefined;
  private readonly swapped: ((table: RouteTable) => void)[] = [];

  current(): RouteTable | undefined {
    return this.table;
  }

  /** Called with each new table once it is in use (to let go of what only older tables used). */
  onSwap(listener: (table: RouteTable) => void): void {
    this.swapped.push(listener);
  }

  /** Returns true when the version changed. */
  swap(next: RouteTable): boolean {
    if (this.table?.version === next.version) return false;
    this.table = next;
    for (const listener of this.swapped) listener(next);
    return true;
  }
}
