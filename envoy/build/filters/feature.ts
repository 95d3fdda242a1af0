import type { JsonObject } from "../../json.js";
import type { RouteIR, TranslationSettings, WorkloadIR } from "../../../contract/ir.js";
import type { UpstreamCluster } from "../clusters.js";

export interface FilterContext {
  workload: WorkloadIR;
  settings: TranslationSettings;
}

/**
 * One concern enforced by Envoy HTTP filters. Each feature patches the connection manager
 * (its filters, in order), each route (its per-filter configuration and route action fields)
 * and adds the clusters it calls. A feature whose `httpFilters` is empty is absent from the
 * sidecar and is not asked about routes or clusters.
 */
export interface HttpFilterFeature {
  /** Filters for the connection manager, in chain order; empty when the workload needs none. */
  httpFilters(ctx: FilterContext): JsonObject[];
  /** Routes placed before the IR's routes, for requests the feature's filter answers itself. */
  leadingRoutes?(ctx: FilterContext): JsonObject[];
  /** `typed_per_filter_config` entries of the virtual host (every route), keyed by filter name. */
  virtualHostConfig?(ctx: FilterContext): Record<string, JsonObject>;
  /** `typed_per_filter_config` entries of a route, keyed by filter name. */
  perRouteConfig?(route: RouteIR, ctx: FilterContext): Record<string, JsonObject>;
  /** Fields added to the `route` action of a forwarding route. */
  routeAction?(route: RouteIR, ctx: FilterContext): JsonObject;
  /** Upstream clusters the filters call. */
  clusters?(ctx: FilterContext): UpstreamCluster[];
}

export function httpFilter(name: string, typedConfig: JsonObject): JsonObject {
  return { name, typed_config: typedConfig };
}
