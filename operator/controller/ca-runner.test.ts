import { describe, expect, it } from "vitest";
import { makeSnapshot } from "../../envoy/snapshot/snapshot.js";
import { SnapshotCache } from "../../envoy/xds/cache.js";
import { XdsType } from "../../envoy/type-urls.js";
import { FixedLeadership, MemoryReports, RecordingWriter, acknowledgeAll, silentLog } from "../../test/support/controller-fakes.js";
import { waitFor } from "../../test/support/poll.js";
import type { CaObservation } from "../identity/ca-rotation.js";
import { CaRunner } from "./ca-runner.js";
import type { CaRotationPort } from "./ports.js";
import { ReconcileQueue } from "./reconcile-queue.js";

/** A rotation whose answers the test sets. */
class ScriptedRotation implements CaRotationPort {
  staged = false;
  next: CaObservation = { kind: "unchanged" };
  activatedAt: Date[] = [];
  readonly secret = { namespace: "bulwark-system", name: "workload-ca" };
  observe(): Promise<CaObservation> {
    return Promise.resolve(this.next);
  }
  pending(): boolean {
    return this.staged;
  }
  stagedRoots(): string[] {
    return this.staged ? ["new"] : [];
  }
  bundleRoots(): string[] {
    return this.staged ? ["new", "old"] : ["old"];
  }
  activate(now: Date): void {
    this.staged = false;
    this.activatedAt.push(now);
  }
}

const now = new Date("2026-11-25T12:00:00Z");
const plain = makeSnapshot([{ typeUrl: XdsType.Cluster, name: "app", body: Buffer.from("cluster") }]);

function setup(options: { leader?: boolean } = {}): {
  ca: CaRunner;
  rotation: ScriptedRotation;
  cache: SnapshotCache;
  reports: MemoryReports;
  writer: RecordingWriter;
  queue: ReconcileQueue;
  reconciles: { count: number };
} {
  const rotation = new ScriptedRotation();
  const cache = new SnapshotCache();
  const reports = new MemoryReports();
  const writer = new RecordingWriter();
  const queue = new ReconcileQueue(silentLog);
  const reconciles = { count: 0 };
  const ca = new CaRunner({
    rotation,
    cache,
    reports,
    writer,
    leadership: new FixedLeadership(options.leader ?? true),
    queue,
    clock: () => now,
    log: silentLog,
    reconcile: () => void (reconciles.count += 1),
    activationTimeoutMs: 50,
  });
  return { ca, rotation, cache, reports, writer, queue, reconciles };
}

describe("CaRunner", () => {
  it("announces a new CA and, as leader only, a refused Secret once", async () => {
    const { ca, rotation, writer } = setup();
    rotation.next = { kind: "staged" };
    await ca.observe([{ metadata: { namespace: "bulwark-system", name: "workload-ca", uid: "u1" } }]);
    rotation.next = { kind: "refused", message: "not a CA", first: true };
    await ca.observe([]);
    rotation.next = { kind: "refused", message: "not a CA", first: false };
    await ca.observe([]);
    expect(writer.events.map((e) => [e.type, e.reason, e.ref.uid, e.involved?.kind])).toEqual([
      ["Normal", "WorkloadCARotating", "u1", "Secret"],
      ["Warning", "InvalidWorkloadCA", undefined, "Secret"],
    ]);

    const follower = setup({ leader: false });
    follower.rotation.next = { kind: "refused", message: "not a CA", first: true };
    await follower.ca.observe([]);
    expect(follower.writer.events).toEqual([]);
  });

  it("activates a staged CA at once when every connected sidecar acknowledged and every replica trusts its roots", () => {
    const { ca, rotation, cache, reconciles } = setup();
    rotation.staged = true;
    cache.setSnapshot("a.shop", plain);
    cache.streamOpened("a.shop");
    acknowledgeAll(cache, "a.shop");
    ca.published(new Set(["a.shop"]), { kind: "staged" }, now);
    expect(rotation.activatedAt).toEqual([now]);
    expect(reconciles.count).toBe(1);
  });

  it("waits for a connected sidecar that has not acknowledged, or a replica that does not trust the roots, then activates after the timeout", async () => {
    const { ca, rotation, cache, reports, reconciles, queue } = setup();
    rotation.staged = true;
    cache.setSnapshot("a.shop", plain);
    cache.streamOpened("a.shop");
    reports.notTrusting = ["replica-b"];
    ca.published(new Set(["a.shop"]), { kind: "staged" }, now);
    expect(rotation.activatedAt).toEqual([]);
    await waitFor("activation after the timeout", () => rotation.activatedAt.length === 1);
    expect(reconciles.count).toBe(1);
    await queue.stop();
  });

  it("publishes the roots every connected sidecar acknowledged: none before its acknowledgement, all once it verifies no peer", () => {
    const { ca, rotation, cache } = setup();
    rotation.staged = true;
    cache.setSnapshot("a.shop", plain);
    cache.streamOpened("a.shop");
    expect(ca.trustedRoots()).toEqual([]);
    acknowledgeAll(cache, "a.shop");
    ca.acknowledged("a.shop");
    expect(ca.trustedRoots()).toEqual(["new", "old"]);
    ca.forget("a.shop");
    expect(ca.trustedRoots()).toEqual([]);
  });
});
