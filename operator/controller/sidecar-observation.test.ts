import { describe, expect, it } from "vitest";
import { MemoryReports } from "../../test/support/controller-fakes.js";
import { sidecarReport } from "./sidecar-observation.js";
import type { SidecarReport } from "./sidecar-reports.js";

interface Case {
  name: string;
  own?: SidecarReport;
  inSync?: boolean;
  inherited?: SidecarReport;
  remote?: SidecarReport;
  want: SidecarReport | undefined;
}

const ownGen2 = { policy: "p/a", generation: 2, connected: true };
const ownGen2Gone = { ...ownGen2, connected: false };
const inherited = { policy: "p/a", generation: 1, connected: false };
const remoteLive = { policy: "p/a", generation: 3, connected: true };
const remoteStale = { policy: "p/a", generation: 3, connected: false };

const cases: Case[] = [
  { name: "connected here and settled: this replica's word", own: ownGen2, inSync: true, inherited, remote: remoteLive, want: ownGen2 },
  { name: "connected here and a NACK: this replica's word", own: { ...ownGen2, nack: "bad" }, inSync: false, inherited, want: { ...ownGen2, nack: "bad" } },
  { name: "connected here, push not yet acknowledged: what this identity saw before a restart", own: ownGen2, inSync: false, inherited, want: inherited },
  { name: "connected here, not settled, nothing inherited: this replica's word", own: ownGen2, inSync: false, want: ownGen2 },
  { name: "not connected here: a replica it is connected to", own: ownGen2Gone, inSync: false, inherited, remote: remoteLive, want: remoteLive },
  { name: "gone from every replica: what this replica saw last, settled", own: ownGen2Gone, inSync: true, remote: remoteStale, want: ownGen2Gone },
  { name: "never seen here: inherited before a stale remote", inherited, remote: remoteStale, want: inherited },
  { name: "never seen here, nothing inherited: the newest word of any replica", remote: remoteStale, want: remoteStale },
  { name: "nobody knows it", want: undefined },
];

describe("sidecarReport: the fleet's word on one sidecar", () => {
  it.each(cases)("$name", ({ own, inSync, inherited: before, remote, want }) => {
    const reports = new MemoryReports();
    if (before) reports.inherited.set("s", before);
    if (remote) reports.others.set("s", remote);
    const got = sidecarReport("s", { ownReport: () => own, isInSync: () => inSync ?? false, reports, now: 0 });
    expect(got).toEqual(want);
  });

  it("a settled report of this replica replaces what this identity reported before a restart", () => {
    const reports = new MemoryReports();
    reports.inherited.set("s", inherited);
    sidecarReport("s", { ownReport: () => ownGen2, isInSync: () => true, reports, now: 0 });
    expect(reports.inherited.has("s")).toBe(false);
  });
});
