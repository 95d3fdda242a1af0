import type { Logger } from "pino";
import type { SnapshotCache } from "../../envoy/xds/cache.js";
import type { PolicyStatus } from "../api/v1alpha1/policy.js";
import type { CaRotation } from "../identity/ca-rotation.js";
import type { PolicyRef } from "../kube/status-writer.js";
import type { TranslationInput } from "../resolve/objects.js";
import type { SidecarReports } from "./sidecar-reports.js";

/**
 * What the controller's runners are given, as interfaces: the composition root (wiring.ts) passes
 * the Kubernetes-backed implementations, the unit tests in-memory ones.
 */

/** The watched objects translation reads (operator/kube/object-store.ts). */
export interface ObjectSource {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Every kind listed once: a translation before that would miss objects. */
  isListed(): boolean;
  isSynced(): boolean;
  translationInput(now: string): TranslationInput;
}

/** Writes policy status and Events (operator/kube/status-writer.ts). */
export interface StatusSink {
  /** Writes `desired` unless `current` already says it; true when it wrote. */
  write(ref: PolicyRef, current: PolicyStatus | undefined, desired: PolicyStatus): Promise<boolean>;
  event(ref: PolicyRef, type: "Normal" | "Warning", reason: string, message: string, involved?: { apiVersion: string; kind: string }): Promise<void>;
}

/** What the sidecars run, shared between replicas (sidecar-reports.ts). */
export type ReportBook = Pick<
  SidecarReports,
  "onChange" | "start" | "stop" | "schedule" | "inheritedReport" | "forget" | "retain" | "fromOthers" | "replicasNotTrusting" | "collectGarbage"
>;

/** The xDS snapshot cache the ADS streams serve from (envoy/xds/cache.ts). */
export type XdsCache = Pick<
  SnapshotCache,
  | "setSnapshot"
  | "getSnapshot"
  | "clearSnapshot"
  | "nodeIds"
  | "openStreams"
  | "hasAckState"
  | "isInSync"
  | "currentRejection"
  | "connectedSidecars"
  | "onAck"
  | "onNack"
  | "onConnection"
>;

/** The leader election: only the leader writes status and Events. */
export interface Leadership {
  isLeader(): boolean;
  onChange(listener: (leader: boolean) => void): void;
}

/** The workload CA's rotation (operator/identity/ca-rotation.ts). */
export type CaRotationPort = Pick<CaRotation, "observe" | "pending" | "stagedRoots" | "bundleRoots" | "activate" | "secret">;

export type Clock = () => Date;

export type { Logger };
