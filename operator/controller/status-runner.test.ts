import { describe, expect, it } from "vitest";
import { FixedLeadership, MemoryObjects, MemoryReports, RecordingWriter } from "../../test/support/controller-fakes.js";
import type { PolicyStatus } from "../api/v1alpha1/policy.js";
import { policy, service, sidecarPod } from "../testdata/objects.js";
import { translate } from "../translate/translate.js";
import type { SidecarReport } from "./sidecar-reports.js";
import { StatusRunner } from "./status-runner.js";

const publicRules = { rules: [{ name: "all", match: { pathPrefix: "/" }, authentication: "None" }] };

function setup(options: { leader?: boolean; changesTold?: boolean } = {}): {
  runner: StatusRunner;
  objects: MemoryObjects;
  writer: RecordingWriter;
  reports: MemoryReports;
  own: Map<string, SidecarReport>;
  clock: { now: Date };
  ownReads: { count: number };
} {
  const objects = new MemoryObjects({
    policies: [policy({ namespace: "shop", name: "api", created: "2026-01-01T00:00:00Z", spec: { targetRefs: [{ kind: "Service", name: "api" }], ...publicRules } })],
    services: [service("shop", "api", { app: "api" })],
    pods: [sidecarPod("shop", "api-1", { app: "api" })],
    secrets: [],
  });
  const writer = new RecordingWriter();
  const reports = new MemoryReports();
  const own = new Map<string, SidecarReport>();
  const clock = { now: new Date("2026-11-25T12:00:00.123Z") };
  const ownReads = { count: 0 };
  const runner = new StatusRunner({
    objects,
    writer,
    reports,
    leadership: new FixedLeadership(options.leader ?? true),
    clock: () => clock.now,
    sidecars: {
      ownReport: (id) => {
        ownReads.count += 1;
        return own.get(id);
      },
      isInSync: (id) => own.has(id),
    },
    ...(options.changesTold ? { changesTold: true } : {}),
  });
  runner.published(translate(objects.translationInput("2026-11-25T12:00:00Z")));
  return { runner, objects, writer, reports, own, clock, ownReads };
}

function condition(status: PolicyStatus | undefined, type: string): { status: string; reason: string } | undefined {
  const found = status?.conditions?.find((c) => c.type === type);
  return found ? { status: found.status, reason: found.reason } : undefined;
}

describe("StatusRunner", () => {
  it("a follower writes nothing", async () => {
    const { runner, writer, reports } = setup({ leader: false });
    await runner.write();
    expect(writer.statuses).toEqual([]);
    expect(writer.events).toEqual([]);
    expect(reports.collected).toBe(0);
  });

  it("writes Programmed once the sidecar runs the generation, at the injected clock's second, with one Event per change", async () => {
    const { runner, objects, writer, own } = setup();
    await runner.write();
    const pending = writer.statuses.at(-1);
    expect(pending?.ref).toEqual({ namespace: "shop", name: "api" });
    expect(condition(pending?.status, "Accepted")).toEqual({ status: "True", reason: "Accepted" });
    expect(condition(pending?.status, "Programmed")).toEqual({ status: "False", reason: "Pending" });
    expect(pending?.status.conditions?.[0]?.lastTransitionTime).toBe("2026-11-25T12:00:00Z");
    expect(writer.events.map((e) => `${e.type}/${e.reason}`)).toEqual(["Normal/Accepted"]);

    // The store returns what was written; the same status again announces nothing new.
    (objects.input.policies[0] as { status?: PolicyStatus }).status = pending?.status;
    await runner.write();
    expect(writer.events).toHaveLength(1);

    own.set("api-1.shop", { policy: "shop/api", generation: 1, connected: true });
    await runner.write();
    expect(condition(writer.statuses.at(-1)?.status, "Programmed")).toEqual({ status: "True", reason: "Programmed" });
    expect(writer.events.map((e) => `${e.type}/${e.reason}`)).toEqual(["Normal/Accepted", "Normal/Programmed"]);
  });

  it("told of changes, works out again only the reports of sidecars told changed, and all of them a second later", async () => {
    const { runner, objects, writer, own, clock, ownReads } = setup({ changesTold: true });
    // As the API server's writer: nothing is written when the object already says it.
    writer.write = (ref, current, desired): Promise<boolean> => {
      if (JSON.stringify(current) === JSON.stringify(desired)) return Promise.resolve(false);
      writer.statuses.push({ ref, status: desired });
      return Promise.resolve(true);
    };
    await runner.write();
    const pending = writer.statuses.at(-1)?.status;
    expect(condition(pending, "Programmed")).toEqual({ status: "False", reason: "Pending" });
    (objects.input.policies[0] as { status?: PolicyStatus }).status = pending;
    await runner.write();
    // Nothing told: the sidecar's report is not read again, and nothing is written.
    const reads = ownReads.count;
    const writes = writer.statuses.length;
    await runner.write();
    expect(ownReads.count).toBe(reads);
    expect(writer.statuses).toHaveLength(writes);

    own.set("api-1.shop", { policy: "shop/api", generation: 1, connected: true });
    runner.sidecarChanged("api-1.shop");
    await runner.write();
    expect(ownReads.count).toBeGreaterThan(reads);
    expect(condition(writer.statuses.at(-1)?.status, "Programmed")).toEqual({ status: "True", reason: "Programmed" });

    // A change not told is seen once a second has passed since every report was last worked out.
    (objects.input.policies[0] as { status?: PolicyStatus }).status = writer.statuses.at(-1)?.status;
    await runner.write();
    const settled = writer.statuses.length;
    own.delete("api-1.shop");
    await runner.write();
    expect(writer.statuses).toHaveLength(settled);
    clock.now = new Date(clock.now.getTime() + 1000);
    await runner.write();
    expect(condition(writer.statuses.at(-1)?.status, "Programmed")).toEqual({ status: "False", reason: "Pending" });

    // Everything told changed (another replica's record, leadership): every report is read again.
    const before = ownReads.count;
    runner.everySidecarChanged();
    await runner.write();
    expect(ownReads.count).toBeGreaterThan(before);
  });

  it("takes another replica's word for a sidecar connected there, NACK included", async () => {
    const { runner, writer, reports } = setup();
    reports.others.set("api-1.shop", { policy: "shop/api", generation: 1, connected: true, nack: "listener: invalid" });
    await runner.write();
    expect(condition(writer.statuses.at(-1)?.status, "Programmed")).toEqual({ status: "False", reason: "Rejected" });
    expect(writer.events.map((e) => `${e.type}/${e.reason}`)).toEqual(["Warning/Rejected"]);
  });

  it("skips a policy whose generation changed since the translation (the next reconcile covers it)", async () => {
    const { runner, objects, writer } = setup();
    (objects.input.policies[0] as { metadata: { generation: number } }).metadata.generation = 2;
    await runner.write();
    expect(writer.statuses).toEqual([]);
  });

  it("collects the records of gone replicas at most every ten minutes of its clock", async () => {
    const { runner, reports, clock } = setup();
    await runner.write();
    await runner.write();
    expect(reports.collected).toBe(1);
    clock.now = new Date(clock.now.getTime() + 600_001);
    await runner.write();
    expect(reports.collected).toBe(2);
  });
});
