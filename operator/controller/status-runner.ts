import type { Logger } from "pino";
import { AcceptedReason, ConditionType, ProgrammedReason } from "../api/v1alpha1/conditions.js";
import type { PolicyStatus } from "../api/v1alpha1/policy.js";
import type { PolicyRef } from "../kube/status-writer.js";
import { SidecarBypassCondition } from "../resolve/bypass.js";
import type { ObjectMeta } from "../resolve/objects.js";
import type { Translation } from "../translate/translate.js";
import { desiredStatus, sameStatus, type SidecarObservation } from "./policy-status.js";
import type { ResolvedPolicy } from "../resolve/resolve.js";
import type { Clock, Leadership, ObjectSource, ReportBook, StatusSink } from "./ports.js";
import { sidecarObservation, type ObservationSources } from "./sidecar-observation.js";
import { WarningEvents } from "./warning-events.js";

export interface StatusRunnerOptions {
  objects: Pick<ObjectSource, "translationInput">;
  writer: StatusSink;
  reports: Pick<ReportBook, "forget" | "inheritedReport" | "fromOthers" | "collectGarbage">;
  leadership: Pick<Leadership, "isLeader">;
  clock: Clock;
  /** This replica's word on its sidecars (snapshot-runner.ts). */
  sidecars: Pick<ObservationSources, "ownReport" | "isInSync">;
  /** Policies by Ready status and reason (bulwark_policies). */
  countPolicies?: (ready: readonly { status: string; reason: string }[]) => void;
  /** Info lines for policies that are not accepted or miss a reference, once per change. */
  log?: Pick<Logger, "info">;
  /**
   * True when the caller tells of every change of what a sidecar's report reads (sidecarChanged,
   * everySidecarChanged): the reports of sidecars not named since the last write are then not
   * worked out again to tell that a policy is unchanged. Otherwise every write works out all.
   */
  changesTold?: boolean;
}

/**
 * However few changes were told, every report is worked out again after this long: other
 * replicas' reports turn stale with time alone (sidecar-reports.ts fromOthers), with no event.
 */
const FULL_OBSERVATION_MS = 1000;

/** How often the leader deletes the records of replicas gone for an hour. */
const GARBAGE_COLLECTION_MS = 600_000;

type PolicyObject = { metadata: ObjectMeta; status?: PolicyStatus };

/**
 * As leader, writes each policy's status for the last published translation — what its sidecars
 * acknowledged, as the fleet of replicas reports it — and one Event per change of what the status
 * says, plus the warning Events.
 */
export class StatusRunner {
  private last: Translation | undefined;
  private lastGarbageCollection = 0;
  private readonly reported = new Map<string, string>();
  /** Per policy, what its status was last computed from, when the object already said it (writeOne). */
  private readonly settled = new Map<string, { dependencies: unknown[]; ready: { status: string; reason: string } | undefined }>();
  private readonly bypassEvents: WarningEvents;
  private readonly warningEvents: WarningEvents;
  /** Each sidecar's report as text, as the last write that worked it out found it (changesTold). */
  private readonly reportTexts = new Map<string, string>();
  /** Sidecars whose report may have changed since (changesTold); every one when `allChanged`. */
  private readonly changed = new Set<string>();
  private allChanged = true;
  private lastFullObservation = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: StatusRunnerOptions) {
    this.bypassEvents = new WarningEvents(options.writer, SidecarBypassCondition);
    this.warningEvents = new WarningEvents(options.writer, ConditionType.Warnings, true);
  }

  /** What the sidecar's report reads may have changed (an ACK, a NACK, a connection, a new snapshot). */
  sidecarChanged(nodeId: string): void {
    this.changed.add(nodeId);
  }

  /** What every sidecar's report reads may have changed (the other replicas' records, leadership). */
  everySidecarChanged(): void {
    this.allChanged = true;
  }

  /** The translation whose snapshots were published: status is written for it from now on. */
  published(translation: Translation): void {
    this.last = translation;
  }

  async write(): Promise<void> {
    const { leadership, clock, reports } = this.options;
    const last = this.last;
    if (!leadership.isLeader() || !last) return;
    const instant = clock();
    if (instant.getTime() - this.lastGarbageCollection > GARBAGE_COLLECTION_MS) {
      this.lastGarbageCollection = instant.getTime();
      await reports.collectGarbage(3600);
    }
    const observation = sidecarObservation({ ...this.options.sidecars, reports, now: instant.getTime() });
    const observe = this.options.changesTold ? { ...observation, reportsOf: this.toldReportsOf(observation, instant.getTime()) } : observation;
    const keys = new Set(last.resolution.policies.map((p) => `${p.namespace}/${p.name}`));
    for (const key of this.settled.keys()) if (!keys.has(key)) this.settled.delete(key);
    const now = instant.toISOString().replace(/\.\d{3}Z$/, "Z");
    const ready: { status: string; reason: string }[] = [];
    const raw = new Map<string, PolicyObject>();
    for (const p of this.options.objects.translationInput(now).policies) {
      const object = p as PolicyObject;
      raw.set(`${object.metadata.namespace ?? "default"}/${object.metadata.name}`, object);
    }
    await Promise.all(
      last.resolution.policies.map(async (resolved) => {
        const object = raw.get(`${resolved.namespace}/${resolved.name}`);
        if (!object || (object.metadata.generation ?? 0) !== resolved.generation) return; // changed meanwhile; the next reconcile covers it
        const readyCondition = await this.writeOne(resolved, object, observe, now);
        if (readyCondition) ready.push(readyCondition);
      }),
    );
    this.options.countPolicies?.(ready);
    this.bypassEvents.retain(keys);
    this.warningEvents.retain(keys);
  }

  /**
   * `reportsOf` from the reports worked out before, except those of sidecars told changed (all of
   * them when everything was told changed, or a second after the last full observation).
   */
  private toldReportsOf(observation: { reportsOf(ids: readonly string[]): string }, now: number): (ids: readonly string[]) => string {
    if (this.allChanged || now - this.lastFullObservation >= FULL_OBSERVATION_MS) {
      this.reportTexts.clear();
      this.lastFullObservation = now;
    } else {
      for (const id of this.changed) this.reportTexts.delete(id);
    }
    this.allChanged = false;
    this.changed.clear();
    return (ids) => {
      let text = "";
      for (const id of ids) {
        let one = this.reportTexts.get(id);
        if (one === undefined) {
          one = observation.reportsOf([id]);
          this.reportTexts.set(id, one);
        }
        text += one;
      }
      return text;
    };
  }

  /**
   * Writes one policy's status and Events; returns its Ready condition. A policy whose resolution,
   * object and sidecars' reports are what they were when its status was last found already
   * written is skipped: its desired status would be the same (transition times are kept while a
   * condition holds), so the writer and the Events would have nothing to do.
   */
  private async writeOne(
    resolved: ResolvedPolicy,
    object: PolicyObject,
    observe: SidecarObservation & { reportsOf(ids: readonly string[]): string },
    now: string,
  ): Promise<{ status: string; reason: string } | undefined> {
    const key = `${resolved.namespace}/${resolved.name}`;
    const sidecars = resolved.targets.flatMap((t) => t.sidecars);
    const dependencies = [
      object,
      resolved.generation,
      resolved.targets,
      resolved.accepted,
      resolved.resolvedRefs,
      resolved.warnings,
      resolved.sidecarBypass,
      observe.reportsOf(sidecars),
    ];
    const settled = this.settled.get(key);
    if (settled && sameElements(settled.dependencies, dependencies)) return settled.ready;
    const desired = desiredStatus(resolved, observe, object.status, now);
    const readyCondition = desired.conditions?.find((c) => c.type === "Ready");
    const ready = readyCondition ? { status: readyCondition.status, reason: readyCondition.reason } : undefined;
    const ref = { namespace: resolved.namespace, name: resolved.name, ...(object.metadata.uid ? { uid: object.metadata.uid } : {}) };
    // What the status already says was announced (by this replica before a restart, or by the previous leader).
    if (!this.reported.has(key) && object.status) this.reported.set(key, eventSignature(object.status));
    const wrote = await this.options.writer.write(ref, object.status, desired);
    await this.recordEvents(key, ref, desired);
    await this.bypassEvents.record(key, ref, resolved.sidecarBypass, object.status);
    await this.warningEvents.record(key, ref, resolved.warnings.status === "True" ? resolved.warnings : undefined, object.status);
    // Settled only when the object already says it (not when a write failed: the next call tries again).
    if (!wrote && sameStatus(object.status, desired)) this.settled.set(key, { dependencies, ready });
    else this.settled.delete(key);
    return ready;
  }

  /** One Event per change of what the policy's status says (accepted, rejected, programmed, NACKed). */
  private async recordEvents(key: string, ref: PolicyRef, status: PolicyStatus): Promise<void> {
    const writer = this.options.writer;
    const accepted = status.conditions?.find((c) => c.type === "Accepted");
    const programmed = status.conditions?.find((c) => c.type === "Programmed");
    const refs = status.conditions?.find((c) => c.type === "ResolvedRefs");
    const signature = eventSignature(status);
    if (this.reported.get(key) === signature) return;
    this.reported.set(key, signature);
    if (accepted && accepted.reason !== AcceptedReason.Accepted) {
      this.options.log?.info({ policy: key, reason: accepted.reason, message: accepted.message }, "policy not accepted");
      await writer.event(ref, "Warning", accepted.reason, accepted.message);
      return;
    }
    if (refs?.status === "False") {
      // A missing or invalid Secret or Service: the policy is accepted, yet something it names is not there.
      this.options.log?.info({ policy: key, reason: refs.reason, message: refs.message }, "policy refers to something missing or invalid");
      await writer.event(ref, "Warning", refs.reason, refs.message);
      return;
    }
    if (programmed?.reason === ProgrammedReason.Rejected) await writer.event(ref, "Warning", "Rejected", programmed.message);
    else if (programmed?.reason === ProgrammedReason.Programmed) await writer.event(ref, "Normal", "Programmed", programmed.message);
    else if (accepted) await writer.event(ref, "Normal", "Accepted", `Generation ${status.observedGeneration ?? 0} accepted; programming its sidecars.`);
  }
}

function sameElements(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a.length === b.length && a.every((x, i) => Object.is(x, b[i]));
}

/** What an Event announces about a status: its generation and the reasons of Accepted and Programmed. */
function eventSignature(status: PolicyStatus): string {
  const accepted = status.conditions?.find((c) => c.type === "Accepted");
  const programmed = status.conditions?.find((c) => c.type === "Programmed");
  const refs = status.conditions?.find((c) => c.type === "ResolvedRefs");
  return `${status.observedGeneration ?? 0}/${accepted?.reason ?? ""}/${refs?.reason ?? ""}/${programmed?.reason ?? ""}`;
}
