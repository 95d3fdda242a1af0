import { plainSidecarText } from "../../envoy/xds/sidecar-text.js";
import { AcceptedReason, ConditionType, ProgrammedReason, ReadyReason, ResolvedRefsReason } from "../api/v1alpha1/conditions.js";
import type { PolicyStatus } from "../api/v1alpha1/policy.js";
import type { ConditionData } from "../resolve/conditions.js";
import { SidecarBypassCondition } from "../resolve/bypass.js";
import type { ResolvedPolicy } from "../resolve/resolve.js";
import { compareStrings } from "../../common/order.js";

/** What the xDS side knows about one sidecar. */
export interface SidecarObservation {
  /** The policy generation the sidecar runs (acknowledged every type of its snapshot), if any. */
  runningGeneration(nodeId: string, policyKey: string): number | undefined;
  /** Envoy's error when the sidecar rejected its current configuration. */
  rejection(nodeId: string): string | undefined;
}

type Condition = NonNullable<PolicyStatus["conditions"]>[number];

function programmed(resolved: ResolvedPolicy, observe: SidecarObservation): ConditionData & { running: Map<string, number> } {
  const key = `${resolved.namespace}/${resolved.name}`;
  const sidecars = [...new Set(resolved.targets.flatMap((t) => t.sidecars))].sort();
  const running = new Map<string, number>();
  for (const id of sidecars) if (observe.runningGeneration(id, key) === resolved.generation) running.set(id, resolved.generation);
  if (resolved.accepted.reason === AcceptedReason.TranslationFailed) {
    return {
      status: "False",
      reason: AcceptedReason.TranslationFailed,
      message: "Not programmed: its translation failed (see Accepted); its sidecars keep their last good configuration.",
      running,
    };
  }
  if (!resolved.policy) return { status: "False", reason: ReadyReason.Invalid, message: "An invalid policy is not programmed.", running };
  if (sidecars.length === 0) {
    return { status: "True", reason: ProgrammedReason.NoSidecars, message: "No sidecars serve the targets yet; they get this policy when they join.", running };
  }
  const rejected = sidecars.flatMap((id) => {
    const error = observe.rejection(id);
    // Envoy's text, from a stream or another replica's record: bounded plain text, whatever it holds.
    return error ? [`${id}: ${plainSidecarText(error)}`] : [];
  });
  if (rejected.length > 0) {
    return {
      status: "False",
      reason: ProgrammedReason.Rejected,
      message: `Envoy rejected the configuration of generation ${resolved.generation} on ${rejected.length}/${sidecars.length} sidecars and keeps the last good one: ${rejected.slice(0, 3).join("; ")}`,
      running,
    };
  }
  const summary = `${running.size}/${sidecars.length} sidecars run generation ${resolved.generation}`;
  return running.size === sidecars.length
    ? { status: "True", reason: ProgrammedReason.Programmed, message: `${summary}.`, running }
    : { status: "False", reason: ProgrammedReason.Pending, message: `${summary}; waiting for the others to acknowledge.`, running };
}

/** Ready=True: every sidecar runs this generation, or there is none to run it (said as it is). */
function readyData(programmedReason: string, programmedMessage: string): ConditionData {
  if (programmedReason === ProgrammedReason.NoSidecars) {
    return {
      status: "True",
      reason: ReadyReason.NoSidecars,
      message:
        "Accepted and its references resolved, but no sidecar serves its targets yet, so nothing enforces it now; nothing is left to wait for: a sidecar that joins gets it with its first configuration.",
    };
  }
  return { status: "True", reason: ReadyReason.Ready, message: `Enforced by every sidecar of its targets: ${programmedMessage}` };
}

/**
 * Ready's reasons that no waiting mends: the spec, a Secret, a Service, the older policy or what
 * Envoy accepts has to change first. kstatus reads them as Failed (Stalled=True).
 */
const stalledReasons: ReadonlySet<string> = new Set([
  AcceptedReason.Invalid,
  AcceptedReason.Conflicted,
  AcceptedReason.TranslationFailed,
  ResolvedRefsReason.TargetNotFound,
  ResolvedRefsReason.SecretNotFound,
  ResolvedRefsReason.InvalidSecret,
  ProgrammedReason.Rejected,
]);

/**
 * kstatus's abnormal-true conditions, present only when True (absent means normal, as kstatus
 * and Flux's own controllers use them): Stalled when Ready failed for good, Reconciling while
 * sidecars have yet to acknowledge. Both carry Ready's reason and message.
 */
function kstatusConditions(ready: ConditionData): [string, ConditionData][] {
  if (ready.status === "True") return [];
  const data: ConditionData = { status: "True", reason: ready.reason, message: ready.message };
  if (stalledReasons.has(ready.reason)) return [[ConditionType.Stalled, data]];
  return [[ConditionType.Reconciling, data]];
}

function condition(type: string, data: ConditionData, generation: number, previous: readonly Condition[] | undefined, now: string): Condition {
  const before = previous?.find((c) => c.type === type);
  const lastTransitionTime = before && before.status === data.status ? before.lastTransitionTime : now;
  return { type, status: data.status, reason: data.reason, message: data.message, observedGeneration: generation, lastTransitionTime };
}

/**
 * The status a policy should have: Accepted and ResolvedRefs from translation, Programmed from
 * what the sidecars acknowledged, Ready summarising them, and Stalled or Reconciling (only when
 * True) telling kstatus whether a policy that is not Ready failed or is on its way. Transition times are kept
 * while a condition's status does not change, so an unchanged status is byte-identical.
 */
export function desiredStatus(resolved: ResolvedPolicy, observe: SidecarObservation, previous: PolicyStatus | undefined, now: string): PolicyStatus {
  const generation = resolved.generation;
  const prog = programmed(resolved, observe);
  const parts: [string, ConditionData][] = [
    [ConditionType.Accepted, resolved.accepted],
    [ConditionType.ResolvedRefs, resolved.resolvedRefs],
    [ConditionType.Programmed, { status: prog.status, reason: prog.reason, message: prog.message }],
  ];
  const failing = parts.find(([, c]) => c.status !== "True");
  const ready: ConditionData = failing ? { status: "False", reason: failing[1].reason, message: failing[1].message } : readyData(prog.reason, prog.message);
  // A warning beside them, not a step to Ready: the policy is enforced on what goes through the sidecar.
  if (resolved.sidecarBypass) parts.push([SidecarBypassCondition, resolved.sidecarBypass]);
  const previousConditions = previous?.conditions;
  const total = new Set(resolved.targets.flatMap((t) => t.sidecars)).size;
  return {
    observedGeneration: generation,
    // Warnings is not part of Ready: a policy enforced as written is Ready, and says what looks unintended.
    conditions: [
      ...parts,
      [ConditionType.Ready, ready] as [string, ConditionData],
      ...kstatusConditions(ready),
      [ConditionType.Warnings, resolved.warnings] as [string, ConditionData],
    ].map(([type, data]) => condition(type, data, generation, previousConditions, now)),
    targets: resolved.targets.map((t) => ({ kind: t.kind, name: t.name, sidecars: t.sidecars.length, programmed: t.sidecars.filter((s) => prog.running.has(s)).length })),
    sidecars: `${prog.running.size}/${total}`,
  };
}

/** Equal apart from transition times: writing it would change nothing a reader cares about. */
export function sameStatus(a: PolicyStatus | undefined, b: PolicyStatus): boolean {
  // `traffic` is bulwark telemetry's to write: the controller's merge patch leaves it as it is.
  const strip = (s: PolicyStatus | undefined): string => stableJson({ ...s, traffic: undefined, conditions: s?.conditions?.map(({ lastTransitionTime: _t, ...rest }) => rest) });
  return strip(a) === strip(b);
}

/** JSON with object keys sorted, so equal values give equal text whatever their key order. */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => compareStrings(a, b))) : v,
  );
}
