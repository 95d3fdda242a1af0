import type { TranslationSettings, WorkloadIR } from "../../operator/ir/types.js";
import { appCluster, type UpstreamCluster } from "./clusters.js";
import type { FilterContext, HttpFilterFeature } from "./filters/feature.js";
import { HTTP_FILTER_FEATURES } from "./filters/registry.js";
import { buildListener } from "./listener.js";
import { byName, NAMES, type NamedResource, type SidecarResources } from "./resources.js";
import { buildRouteConfiguration } from "./route-config.js";

function forwardsToApp(workload: WorkloadIR): boolean {
  return workload.routes.some((r) => r.action.kind === "forward");
}

function uniqueClusters(clusters: readonly UpstreamCluster[]): UpstreamCluster[] {
  const seen = new Map<string, UpstreamCluster>();
  for (const c of clusters) if (!seen.has(c.name)) seen.set(c.name, c);
  return [...seen.values()];
}

/**
 * Everything one sidecar needs for `workload`, in proto3-JSON form: the inbound listener, its
 * route configuration, the clusters it calls and the endpoints of its EDS clusters. Pure and
 * deterministic: the same IR always gives the same resources, each list sorted by name.
 * Secrets (the workload certificate and trust bundle named by the listener's TLS) are issued
 * by the controller's CA, not here.
 */
export function buildSidecarResources(workload: WorkloadIR, settings: TranslationSettings): SidecarResources {
  const ctx: FilterContext = { workload, settings };
  const active: { feature: HttpFilterFeature; filters: ReturnType<HttpFilterFeature["httpFilters"]> }[] = HTTP_FILTER_FEATURES.map((feature) => ({
    feature,
    filters: feature.httpFilters(ctx),
  })).filter((f) => f.filters.length > 0);
  const features = active.map((f) => f.feature);
  const upstreams = uniqueClusters([...(forwardsToApp(workload) ? [appCluster(workload)] : []), ...features.flatMap((f) => f.clusters?.(ctx) ?? [])]);
  const endpoints: NamedResource[] = upstreams.flatMap((u) => (u.loadAssignment ? [{ name: u.name, resource: u.loadAssignment }] : []));
  return {
    listeners: [{ name: NAMES.listener, resource: buildListener(workload, active.flatMap((f) => f.filters)) }],
    routes: [{ name: NAMES.routeConfiguration, resource: buildRouteConfiguration({ ctx, features }) }],
    clusters: byName(upstreams.map((u) => ({ name: u.name, resource: u.cluster }))),
    endpoints: byName(endpoints),
    secrets: [],
  };
}
