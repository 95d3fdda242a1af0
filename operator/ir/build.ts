import type { Resolution, ResolvedPolicy } from "../resolve/resolve.js";
import { buildAppAttestation, buildJwtProviders, buildSenderConstraint } from "./build-jwt.js";
import { buildAdaptive } from "./build-adaptive.js";
import { buildClientAddress } from "./build-client-address.js";
import { buildRequestMeaning } from "./build-request-meaning.js";
import { buildRoutes } from "./build-routes.js";
import { buildTelemetry } from "./build-telemetry.js";
import { deprecationWindows } from "./deprecations.js";
import { policyName, workloadName } from "./names.js";
import { buildCors } from "./build-cors.js";
import { buildListenerTls } from "./build-tls.js";
import { buildMesh, type MeshServiceBuilder } from "./build-mesh.js";
import { failTranslation } from "../resolve/conditions.js";
import { DEFAULT_OUTBOUND_PORT } from "../resolve/objects.js";
import type { SidecarGroup } from "../resolve/resolve.js";
import { egressIncludes } from "../resolve/sidecars.js";
import type { IR, MeshIR, MeshSettings, WorkloadIR } from "../../contract/ir.js";
import { compareStrings } from "../../common/order.js";

type RoutesMemo = { key: string; routes: WorkloadIR["routes"] };

/**
 * Routes by validated policy object (the same object while the policy is unchanged) and by what
 * else they depend on — which deprecation windows are over, the resolved JWKS — so unchanged
 * policies are not rebuilt on every translation. The result is the same with or without it.
 */
const routesMemo = new WeakMap<object, RoutesMemo>();

function policyRoutes(resolved: ResolvedPolicy & { policy: NonNullable<ResolvedPolicy["policy"]> }, source: string, now: string): WorkloadIR["routes"] {
  const spec = resolved.policy.spec;
  const windows = deprecationWindows(spec.mobile?.deprecations, now);
  const key = `${source}|${windows.map((w) => (w.sunset ? 1 : 0)).join("")}`;
  const memo = routesMemo.get(resolved.policy);
  if (memo?.key === key) return memo.routes;
  const routes = buildRoutes(source, spec, windows, resolved.namespace);
  routesMemo.set(resolved.policy, { key, routes });
  return routes;
}

/**
 * The egress proxy, for pods that use one (annotated for it), with its scope; its Services are
 * filled in once the mesh is known. None when the default port would take the sidecar's or the
 * app's port (a listener Envoy could not bind).
 */
function outbound(group: SidecarGroup, mesh: MeshSettings | undefined): Pick<WorkloadIR, "outbound"> {
  const egressTo = group.ports.egressTo;
  if (!mesh || !egressTo) return {};
  const port = group.ports.outboundPort ?? DEFAULT_OUTBOUND_PORT;
  return port === group.ports.sidecarPort || port === group.ports.appPort ? {} : { outbound: { port, egressTo, services: [] } };
}

/** Each egress proxy's Services: the mesh Services its scope includes (only those get its sidecars' pushes). */
function scopeEgress(workloads: WorkloadIR[], mesh: MeshIR): void {
  for (const w of workloads) {
    if (!w.outbound) continue;
    const scope = w.outbound.egressTo;
    w.outbound.services = mesh.services.filter((s) => egressIncludes(scope, s.namespace, s.service)).map((s) => s.name);
  }
}

/**
 * A policy's workloads by validated policy object, with what else they were built from: the
 * same resolution parts (the same objects when resolution reused them: resolve-memo.ts), which
 * deprecation windows are over, and whether there is a mesh. The result is the same with or without it.
 */
const workloadsMemo = new WeakMap<object, { dependencies: unknown[]; workloads: WorkloadIR[] }>();

function workloadDependencies(resolved: ResolvedPolicy, now: string, mesh: MeshSettings | undefined): unknown[] {
  const windows = deprecationWindows(resolved.policy?.spec.mobile?.deprecations, now);
  return [
    resolved.namespace,
    resolved.name,
    resolved.generation,
    resolved.governed,
    resolved.inlineJwks,
    resolved.discoveredJwksUris,
    resolved.apiKeyClients,
    resolved.publicCertificate,
    windows.map((w) => (w.sunset ? 1 : 0)).join(""),
    mesh !== undefined,
  ];
}

/** The policy's workloads: the earlier ones when built from the same parts (their objects are shared, never changed). */
function memoizedPolicyWorkloads(resolved: ResolvedPolicy, now: string, mesh: MeshSettings | undefined): WorkloadIR[] {
  const policy = resolved.policy;
  if (!policy) return [];
  const dependencies = workloadDependencies(resolved, now, mesh);
  const memo = workloadsMemo.get(policy);
  if (memo && memo.dependencies.length === dependencies.length && memo.dependencies.every((d, i) => Object.is(d, dependencies[i]))) return memo.workloads;
  const workloads = policyWorkloads(resolved, now, mesh);
  workloadsMemo.set(policy, { dependencies, workloads });
  return workloads;
}

function policyWorkloads(resolved: ResolvedPolicy, now: string, mesh: MeshSettings | undefined): WorkloadIR[] {
  const policy = resolved.policy;
  if (!policy) return [];
  const spec = policy.spec;
  const source = policyName(resolved.namespace, resolved.name);
  const routes = policyRoutes({ ...resolved, policy }, source, now);
  const jwtProviders = buildJwtProviders({ policy: source, authentication: spec.authentication, resolved });
  const appAttestation = buildAppAttestation(spec.authentication, resolved);
  const senderConstraint = buildSenderConstraint(spec.authentication);
  const minAppVersion = spec.mobile?.minAppVersion;
  const requestMeaning = buildRequestMeaning(spec);
  const adaptive = buildAdaptive(spec.adaptiveResponse);
  const telemetry = buildTelemetry(spec);
  return resolved.governed.map((group) => ({
    name: workloadName({ policy: source, namespace: resolved.namespace, ...group.ports }),
    namespace: resolved.namespace,
    policy: { namespace: resolved.namespace, name: resolved.name, generation: resolved.generation },
    sidecars: group.sidecars,
    listener: {
      port: group.ports.sidecarPort,
      ...(spec.tls ? { tls: buildListenerTls(spec.tls, resolved.publicCertificate) } : {}),
      ...(spec.clientAddress ? { clientAddress: buildClientAddress(spec.clientAddress) } : {}),
    },
    app: { port: group.ports.appPort },
    ...outbound(group, mesh),
    jwtProviders,
    routes,
    ...(spec.cors ? { cors: buildCors(spec.cors) } : {}),
    ...(spec.mobile?.compression ? { compression: { algorithms: [...spec.mobile.compression.algorithms], minBytes: spec.mobile.compression.minBytes } } : {}),
    ...(minAppVersion
      ? {
          minAppVersion: {
            header: minAppVersion.header.toLowerCase(),
            platformHeader: minAppVersion.platformHeader.toLowerCase(),
            minimum: minAppVersion.minimum,
            platforms: Object.entries(minAppVersion.platforms ?? {})
              .sort(([a], [b]) => compareStrings(a, b))
              .map(([platform, minimum]) => ({ platform, minimum })),
          },
        }
      : {}),
    ...(appAttestation ? { appAttestation } : {}),
    ...(spec.authentication?.apiKeys
      ? {
          apiKeys: {
            header: spec.authentication.apiKeys.header.toLowerCase(),
            clientHeader: spec.authentication.apiKeys.clientHeader.toLowerCase(),
            clients: resolved.apiKeyClients ?? [],
          },
        }
      : {}),
    ...(senderConstraint ? { senderConstraint } : {}),
    requestMeaning,
    ...(adaptive ? { adaptive } : {}),
    ...(telemetry ? { telemetry } : {}),
  }));
}

/**
 * The IR of every sidecar: one workload per governing policy and port pair, plus pass-through
 * ones; with `mesh`, also the egress proxy of each and the mesh's destinations. A policy whose
 * IR cannot be built gets Accepted=False (TranslationFailed) in `resolution` and no workload.
 */
export function buildIR(resolution: Resolution, mesh?: MeshSettings, buildService?: MeshServiceBuilder): IR {
  const workloads = [
    ...resolution.policies.flatMap((p) => {
      try {
        return memoizedPolicyWorkloads(p, resolution.now, mesh);
      } catch (error) {
        // Only this policy fails: its sidecars keep their last good configuration.
        failTranslation(p, "building its routes and filters", error);
        return [];
      }
    }),
    ...resolution.passthrough.map((group): WorkloadIR => ({
      name: workloadName({ namespace: group.namespace, ...group.ports }),
      namespace: group.namespace,
      sidecars: group.sidecars,
      listener: { port: group.ports.sidecarPort },
      app: { port: group.ports.appPort },
      ...outbound(group, mesh),
      jwtProviders: [],
      routes: [
        {
          name: `passthrough/${group.namespace}/default`,
          match: { path: { kind: "prefix", prefix: "/" }, methods: [] },
          action: { kind: "forward", checks: { authentication: "None", globalRateLimits: [] }, responseHeaders: [] },
        },
      ],
    })),
  ];
  workloads.sort((a, b) => compareStrings(a.name, b.name));
  if (!mesh) return { workloads };
  // The egress scope is filled in below: a shared workload (memoizedPolicyWorkloads) gets a copy to fill.
  for (const [i, w] of workloads.entries()) if (w.outbound) workloads[i] = { ...w, outbound: { ...w.outbound } };
  const { workloads: kept, mesh: meshIR } = meshOf(resolution, workloads, mesh, buildService);
  scopeEgress(kept, meshIR);
  return { workloads: kept, mesh: meshIR };
}

/**
 * The mesh of `workloads`. A destination whose entry cannot be built fails the policies that
 * govern its sidecars alone (TranslationFailed; their sidecars held at their last good
 * configuration, their workloads left out), and the mesh is built again without them; a
 * destination behind pass-through sidecars only (no policy to tell) is left out of the mesh, so
 * no caller reaches it through the egress proxy, and everything else goes on.
 */
function meshOf(resolution: Resolution, workloads: WorkloadIR[], settings: MeshSettings, buildService: MeshServiceBuilder | undefined): { workloads: WorkloadIR[]; mesh: MeshIR } {
  let current = workloads;
  for (;;) {
    const { mesh, failures } = buildMesh(resolution.meshServices, current, settings, buildService);
    const failed = new Set<string>();
    for (const failure of failures) {
      for (const w of current.filter((w) => w.policy && w.sidecars.some((id) => failure.sidecars.includes(id)))) {
        const owner = resolution.policies.find((p) => p.namespace === w.policy?.namespace && p.name === w.policy.name);
        if (!owner || failed.has(`${owner.namespace}/${owner.name}`)) continue;
        failTranslation(owner, `building the mesh destination ${failure.service}`, failure.error);
        failed.add(`${owner.namespace}/${owner.name}`);
      }
    }
    if (failed.size === 0) return { workloads: current, mesh };
    current = current.filter((w) => !w.policy || !failed.has(`${w.policy.namespace}/${w.policy.name}`));
  }
}
