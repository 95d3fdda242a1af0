/**
 * In-memory stand-ins for the controller's Kubernetes-side inputs (operator/controller/ports.ts),
 * for in-process tests of its runners. The xDS cache and the snapshot encoding are the real ones;
 * the integration suites run the same runners against the real API server and Envoy.
 */
import { pino } from "pino";
import type { MeshIR, WorkloadIR } from "../../contract/ir.js";
import { buildSidecarResources } from "../../envoy/build/sidecar.js";
import { sharedEncodingSnapshot } from "../../envoy/snapshot/shared-encoding.js";
import type { Snapshot } from "../../envoy/snapshot/snapshot.js";
import type { SnapshotCache } from "../../envoy/xds/cache.js";
import { pushOrder, XdsType } from "../../envoy/type-urls.js";
import type { PolicyStatus } from "../../operator/api/v1alpha1/policy.js";
import type { ObjectSource, ReportBook, StatusSink } from "../../operator/controller/ports.js";
import type { SidecarReport } from "../../operator/controller/sidecar-reports.js";
import type { PolicyRef } from "../../operator/kube/status-writer.js";
import type { TranslationInput } from "../../operator/resolve/objects.js";
import { defaultSettings } from "../../operator/translate/render.js";

export const silentLog = pino({ level: "silent" });

/** The real Envoy side of `bulwark controller`, with the render command's settings. */
export function realSnapshot(workload: WorkloadIR, mesh?: MeshIR): Snapshot {
  return sharedEncodingSnapshot(buildSidecarResources(workload, defaultSettings, mesh));
}

/** Objects as the store would list them; `listed` false until the test says so. */
export class MemoryObjects implements ObjectSource {
  listed = true;
  started = false;
  constructor(public input: Omit<TranslationInput, "now">) {}
  start(): Promise<void> {
    this.started = true;
    return Promise.resolve();
  }
  stop(): Promise<void> {
    return Promise.resolve();
  }
  isListed(): boolean {
    return this.listed;
  }
  isSynced(): boolean {
    return this.listed;
  }
  translationInput(now: string): TranslationInput {
    return { ...this.input, now };
  }
}

export interface WrittenStatus {
  ref: PolicyRef;
  status: PolicyStatus;
}

export interface RecordedEvent {
  ref: PolicyRef;
  type: "Normal" | "Warning";
  reason: string;
  message: string;
  involved?: { apiVersion: string; kind: string };
}

/** Records the status writes and Events instead of sending them. */
export class RecordingWriter implements StatusSink {
  readonly statuses: WrittenStatus[] = [];
  readonly events: RecordedEvent[] = [];
  write(ref: PolicyRef, _current: PolicyStatus | undefined, desired: PolicyStatus): Promise<boolean> {
    this.statuses.push({ ref, status: desired });
    return Promise.resolve(true);
  }
  event(ref: PolicyRef, type: "Normal" | "Warning", reason: string, message: string, involved?: { apiVersion: string; kind: string }): Promise<void> {
    this.events.push({ ref, type, reason, message, ...(involved ? { involved } : {}) });
    return Promise.resolve();
  }
}

/** The replicas' shared records, kept in memory: `others` is what the other replicas report. */
export class MemoryReports implements ReportBook {
  readonly others = new Map<string, SidecarReport>();
  readonly inherited = new Map<string, SidecarReport>();
  notTrusting: string[] = [];
  collected = 0;
  schedules = 0;
  retained: ReadonlySet<string> = new Set();
  private readonly listeners: (() => void)[] = [];
  collect: (() => Map<string, SidecarReport>) | undefined;
  collectTrust: (() => readonly string[]) | undefined;

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }
  /** Another replica's record changed. */
  changed(): void {
    for (const l of this.listeners) l();
  }
  start(collect: () => Map<string, SidecarReport>, trustedRoots?: () => readonly string[]): Promise<void> {
    this.collect = collect;
    this.collectTrust = trustedRoots;
    return Promise.resolve();
  }
  stop(): Promise<void> {
    return Promise.resolve();
  }
  schedule(): void {
    this.schedules += 1;
  }
  inheritedReport(nodeId: string): SidecarReport | undefined {
    return this.inherited.get(nodeId);
  }
  forget(nodeId: string): void {
    this.inherited.delete(nodeId);
  }
  retain(nodeIds: ReadonlySet<string>): void {
    this.retained = nodeIds;
  }
  fromOthers(nodeId: string): SidecarReport | undefined {
    return this.others.get(nodeId);
  }
  replicasNotTrusting(): string[] {
    return this.notTrusting;
  }
  collectGarbage(): Promise<void> {
    this.collected += 1;
    return Promise.resolve();
  }
}

export class FixedLeadership {
  private readonly listeners: ((leader: boolean) => void)[] = [];
  constructor(public leader = true) {}
  isLeader(): boolean {
    return this.leader;
  }
  onChange(listener: (leader: boolean) => void): void {
    this.listeners.push(listener);
  }
  set(leader: boolean): void {
    this.leader = leader;
    for (const l of this.listeners) l(leader);
  }
}

/** What an ADS stream does when the sidecar acknowledges every type of its current snapshot. */
export function acknowledgeAll(cache: SnapshotCache, nodeId: string): void {
  const snapshot = cache.getSnapshot(nodeId);
  if (!snapshot) throw new Error(`${nodeId} has no snapshot`);
  for (const type of pushOrder) {
    const version = snapshot.typeVersions.get(type);
    if (version === undefined || (snapshot.resources.get(type)?.size ?? 0) === 0) continue;
    cache.recordSent(nodeId, type, version);
    cache.recordAck(nodeId, type, version);
  }
}

/** A sidecar's rejection of the listeners of its current snapshot. */
export function rejectListeners(cache: SnapshotCache, nodeId: string, error: string): void {
  const snapshot = cache.getSnapshot(nodeId);
  const version = snapshot?.typeVersions.get(XdsType.Listener);
  if (version === undefined) throw new Error(`${nodeId} has no listeners`);
  cache.recordSent(nodeId, XdsType.Listener, version);
  cache.recordNack(nodeId, XdsType.Listener, version, error);
}
