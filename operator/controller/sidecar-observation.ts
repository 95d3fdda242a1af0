import type { SidecarObservation } from "./policy-status.js";
import type { ReportBook } from "./ports.js";
import type { SidecarReport } from "./sidecar-reports.js";

export interface ObservationSources {
  /** What this replica knows about the sidecar (snapshot-runner.ts). */
  ownReport: (nodeId: string) => SidecarReport | undefined;
  /** The sidecar acknowledged its whole current snapshot from this replica. */
  isInSync: (nodeId: string) => boolean;
  /** What the other replicas (and this identity before a restart) reported. */
  reports: Pick<ReportBook, "forget" | "inheritedReport" | "fromOthers">;
  /** Now, in milliseconds (a report's freshness). */
  now: number;
}

/**
 * What a sidecar runs, as well as any replica knows it: this replica's word when the sidecar is
 * connected here and settled (ACKed or NACKed); else that of a replica it is connected to; else
 * what this replica saw last; else what this identity saw before a restart; else the newest
 * word of any replica.
 */
export function sidecarReport(nodeId: string, sources: ObservationSources): SidecarReport | undefined {
  const own = sources.ownReport(nodeId);
  const settled = (r: SidecarReport | undefined): boolean => r !== undefined && (sources.isInSync(nodeId) || r.nack !== undefined);
  if (own && settled(own)) {
    sources.reports.forget(nodeId);
    if (own.connected) return own;
  }
  const inherited = sources.reports.inheritedReport(nodeId);
  if (own?.connected) return inherited ?? own; // reconnecting after a restart, or a push not yet ACKed
  const remote = sources.reports.fromOthers(nodeId, sources.now);
  if (remote?.connected) return remote;
  if (own && settled(own)) return own;
  return inherited ?? remote ?? own;
}

/**
 * The fleet's word on each sidecar, as policy-status.ts reads it, at one instant: each sidecar's
 * report is worked out once (the same answer a second time: `forget` only drops what the first
 * call no longer used). `reportsOf` is the reports of some sidecars as text, to tell whether
 * what a status reads of them changed.
 */
export function sidecarObservation(sources: ObservationSources): SidecarObservation & { reportsOf(nodeIds: readonly string[]): string } {
  const known = new Map<string, SidecarReport | undefined>();
  const report = (nodeId: string): SidecarReport | undefined => {
    if (known.has(nodeId)) return known.get(nodeId);
    const found = sidecarReport(nodeId, sources);
    known.set(nodeId, found);
    return found;
  };
  return {
    runningGeneration: (nodeId, policyKey): number | undefined => {
      const found = report(nodeId);
      return found?.policy === policyKey ? found.generation : undefined;
    },
    rejection: (nodeId): string | undefined => report(nodeId)?.nack,
    reportsOf: (nodeIds) => JSON.stringify(nodeIds.map((id) => report(id) ?? null)),
  };
}
