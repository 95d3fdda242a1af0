import { stringify } from "yaml";
import { buildSidecarResources } from "../../envoy/build/sidecar.js";
import type { SidecarResources } from "../../envoy/build/resources.js";
import type { IR, TranslationSettings } from "../../contract/ir.js";
import type { TranslationInput } from "../resolve/objects.js";
import type { Resolution } from "../resolve/resolve.js";
import { buildPerWorkload, translate } from "./translate.js";
import { errorMessage } from "../../common/errors.js";
import { warnTelemetryWithoutReceiver } from "../resolve/telemetry-warning.js";

/** Where bulwark authz and ratelimit listen when nothing else is said. */
export const defaultSettings: TranslationSettings = {
  authz: { host: "127.0.0.1", port: 9191, timeoutMs: 250 },
  ratelimit: { host: "127.0.0.1", port: 8089, timeoutMs: 100 },
  rateLimitDomain: "bulwark",
};

export interface RenderedWorkload {
  workload: string;
  sidecars: string[];
  resources: SidecarResources;
}

export interface Rendered {
  resolution: Resolution;
  ir: IR;
  workloads: RenderedWorkload[];
  /** Pass-through workloads (no policy, so no status to carry it) whose Envoy side could not be built. */
  failed: { workload: string; sidecars: string[]; error: string }[];
}

/** The whole offline pipeline: objects → resolution → IR → Envoy resources per workload. Pure. */
export function render(input: TranslationInput, settings: TranslationSettings = defaultSettings): Rendered {
  const translated = translate(input, settings.mesh);
  const translation = { ...translated, resolution: warnTelemetryWithoutReceiver(translated.resolution, settings.telemetry !== undefined) };
  const { resolution, ir } = translation;
  const { built, failed } = buildPerWorkload(translation, (w) => buildSidecarResources(w, settings, ir.mesh));
  return {
    resolution,
    ir: { ...ir, workloads: built.map((b) => b.workload) },
    workloads: built.map(({ workload, built: resources }) => ({ workload: workload.name, sidecars: workload.sidecars, resources })),
    failed: failed.filter((f) => !f.workload.policy).map((f) => ({ workload: f.workload.name, sidecars: f.workload.sidecars, error: errorMessage(f.error) })),
  };
}

/** Policy conditions as translation decides them (Programmed depends on the sidecars, so it is not here). */
export function statusSummary(resolution: Resolution): unknown[] {
  return resolution.policies.map((p) => ({
    policy: `${p.namespace}/${p.name}`,
    generation: p.generation,
    accepted: p.accepted,
    resolvedRefs: p.resolvedRefs,
    warnings: p.warnings,
    targets: p.targets,
    ...(p.held.length ? { heldAtLastGoodConfiguration: p.held } : {}),
    ...(p.sidecarBypass ? { sidecarBypass: p.sidecarBypass } : {}),
  }));
}

export const xdsFiles = ["listeners", "routes", "clusters", "endpoints", "secrets"] as const;

function yaml(value: unknown): string {
  return stringify(value, { lineWidth: 0, sortMapEntries: false });
}

/** The golden files of a render: status, IR, and one file per xDS type. */
export function renderFiles(rendered: Rendered): Record<string, string> {
  const files: Record<string, string> = {
    "status.yaml": yaml(statusSummary(rendered.resolution)),
    "ir.yaml": yaml(rendered.ir),
  };
  return { ...files, ...xdsGoldenFiles(rendered.workloads) };
}

/** One golden file per xDS type: each workload's resources of that type, in workload order. */
export function xdsGoldenFiles(workloads: readonly RenderedWorkload[]): Record<string, string> {
  const files: Record<string, string> = {};
  for (const type of xdsFiles) {
    files[`${type}.yaml`] = yaml(workloads.map((w) => ({ workload: w.workload, sidecars: w.sidecars, resources: w.resources[type].map((r) => r.resource) })));
  }
  return files;
}
