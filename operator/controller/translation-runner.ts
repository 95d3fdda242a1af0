import type { MeshIR, MeshSettings } from "../../contract/ir.js";
import { hashHex } from "../../envoy/snapshot/snapshot.js";
import type { TranslationInput } from "../resolve/objects.js";
import { ResolveMemo } from "../resolve/resolve-memo.js";
import { meshService } from "../ir/build-mesh.js";
import { translate, type Translation, type TranslationTimings } from "../translate/translate.js";
import { warnTelemetryWithoutReceiver } from "../resolve/telemetry-warning.js";

/**
 * Runs the pure translation (objects → resolution → IR) and hands the result on, incrementally:
 * a policy whose inputs are the same objects as in the last run keeps its resolution and its
 * workloads (the same objects: resolve-memo.ts, ir/build.ts), so only the policies and workloads
 * an event touched are computed again, and the snapshot runner rebuilds only their snapshots. An
 * unchanged mesh keeps its object from one run to the next, so the Envoy resources built and
 * encoded per mesh object are reused. The output is the same as a translation from scratch.
 */
export class TranslationRunner {
  private lastMesh: { key: string; mesh: MeshIR } | undefined;
  private readonly memo = new ResolveMemo();
  /** The stages of the last run, in milliseconds. */
  readonly timings: TranslationTimings = { resolveMs: 0, irMs: 0 };

  constructor(
    private readonly mesh?: MeshSettings,
    /** Whether sidecars have a telemetry receiver (--telemetry-address): policies asking for telemetry are warned when not. */
    private readonly telemetryReceiver = false,
  ) {}

  /** How many policies the last run resolved again and how many it reused. */
  get lastRun(): { reused: number; computed: number } {
    return { ...this.memo.last };
  }

  run(input: TranslationInput): Translation {
    const translated = translate(input, this.mesh, meshService, this.memo, this.timings);
    const translation = { ...translated, resolution: warnTelemetryWithoutReceiver(translated.resolution, this.telemetryReceiver) };
    const mesh = translation.ir.mesh;
    if (mesh && this.lastMesh && sameEntries(this.lastMesh.mesh, mesh)) {
      translation.ir.mesh = this.lastMesh.mesh;
      return translation;
    }
    // A hash of the mesh, not its JSON, to tell it unchanged (snapshots depend only on their egress scope's part: mesh-scope.ts).
    const meshKey = mesh ? hashHex(JSON.stringify(mesh)) : "";
    if (mesh && this.lastMesh?.key === meshKey) translation.ir.mesh = this.lastMesh.mesh;
    this.lastMesh = translation.ir.mesh ? { key: meshKey, mesh: translation.ir.mesh } : undefined;
    return translation;
  }
}

/** The same destinations, entry for entry the same objects (translate.ts reuses an unchanged destination's entry). */
function sameEntries(a: MeshIR, b: MeshIR): boolean {
  return a.trustDomain === b.trustDomain && a.services.length === b.services.length && a.services.every((s, i) => s === b.services[i]);
}
