import type { MeshIR, TranslationSettings, WorkloadIR } from "../../contract/ir.js";
import { appCluster, type UpstreamCluster } from "./clusters.js";
import type { FilterContext, HttpFilterFeature } from "./filters/feature.js";
import { HTTP_FILTER_FEATURES } from "./filters/registry.js";
import { buildListener } from "./listener.js";
import { buildOutboundResources } from "./outbound.js";
import { byName, NAMES, type NamedResource, type SidecarResources } from "./resources.js";
import { buildRouteConfiguration } from "./route-config.js";
import { telemetryClusters } from "./filters/telemetry-log.js";

function forwardsToApp(workload: WorkloadIR): boolean {
  return workload.routes.some((r) => r.action.kind === "forward");
}

function uniqueClusters(clusters: readonly UpstreamCluster[]): UpstreamCluster[] {
  const seen = new Map<string, UpstreamCluster>();
  for (const c of clusters) if (!seen.has(c.name)) seen.set(c.name, c);
  return [...seen.values()];
}

/** `own` then `shared` (both sorted by name), sorted: a concatenation when the names do not interleave (the usual case). */
function mergeSorted(own: NamedResource[], shared: readonly NamedResource[]): NamedResource[] {
  if (shared.length === 0) return own;
  const lastOwn = own[own.length - 1];
  const firstShared = shared[0];
  if (!lastOwn || !firstShared || lastOwn.name < firstShared.name) return own.concat(shared);
  return byName([...own, ...shared]);
}

/**
 * Everything one sidecar needs for `workload`, in proto3-JSON form: the inbound listener, its
 * route configuration, the clusters it calls and the endpoints of its EDS clusters. Pure and
 * deterministic: the same IR always gives the same resources, each list sorted by name. With
 * the mesh and an egress port (mesh identity enabled), also the egress proxy (outbound.ts).
 * Secrets (the workload certificate and trust bundle named by the listener's TLS) are issued
 * by the controller's CA, not here.
 */
export function buildSidecarResources(workload: WorkloadIR, settings: TranslationSettings, mesh?: MeshIR): SidecarResources {
  const ctx: FilterContext = { workload, settings };
  const active: { feature: HttpFilterFeature; filters: ReturnType<HttpFilterFeature["httpFilters"]> }[] = HTTP_FILTER_FEATURES.map((feature) => ({
    feature,
    filters: feature.httpFilters(ctx),
  })).filter((f) => f.filters.length > 0);
  const features = active.map((f) => f.feature);
  const upstreams = uniqueClusters([...(forwardsToApp(workload) ? [appCluster(workload)] : []), ...features.flatMap((f) => f.clusters?.(ctx) ?? []), ...telemetryClusters(ctx)]);
  const endpoints: NamedResource[] = upstreams.flatMap((u) => (u.loadAssignment ? [{ name: u.name, resource: u.loadAssignment }] : []));
  const outbound = mesh && workload.outbound ? buildOutboundResources(mesh, workload.namespace, workload.outbound.port, workload.outbound.services) : undefined;
  return {
    listeners: mergeSorted(
      [
        {
          name: NAMES.listener,
          resource: buildListener(
            ctx,
            active.flatMap((f) => f.filters),
          ),
        },
      ],
      outbound?.listeners ?? [],
    ),
    routes: mergeSorted([{ name: NAMES.routeConfiguration, resource: buildRouteConfiguration({ ctx, features }) }], outbound?.routes ?? []),
    clusters: mergeSorted(byName(upstreams.map((u) => ({ name: u.name, resource: u.cluster }))), outbound?.clusters ?? []),
    endpoints: mergeSorted(byName(endpoints), outbound?.endpoints ?? []),
    secrets: [],
  };
}
