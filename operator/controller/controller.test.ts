import { performance } from "node:perf_hooks";
import { afterEach, describe, expect, it } from "vitest";
import { SnapshotCache } from "../../envoy/xds/cache.js";
import { FixedLeadership, MemoryObjects, MemoryReports, RecordingWriter, acknowledgeAll, realSnapshot, rejectListeners, silentLog } from "../../test/support/controller-fakes.js";
import { waitFor } from "../../test/support/poll.js";
import { policy, service, sidecarPod } from "../testdata/objects.js";
import { Controller } from "./controller.js";
import { ControllerMetrics } from "./metrics.js";

const publicRules = { rules: [{ name: "all", match: { pathPrefix: "/" }, authentication: "None" }] };
let controller: Controller | undefined;

afterEach(async () => {
  await controller?.stop();
  controller = undefined;
});

function setup(options: { spec?: Record<string, unknown>; clock?: () => Date; debounceMs?: number } = {}): {
  controller: Controller;
  objects: MemoryObjects;
  cache: SnapshotCache;
  writer: RecordingWriter;
  reports: MemoryReports;
  metrics: ControllerMetrics;
} {
  const objects = new MemoryObjects({
    policies: [
      policy({ namespace: "shop", name: "api", created: "2026-01-01T00:00:00Z", spec: { targetRefs: [{ kind: "Service", name: "api" }], ...publicRules, ...options.spec } }),
    ],
    services: [service("shop", "api", { app: "api" })],
    pods: [sidecarPod("shop", "api-1", { app: "api" }), sidecarPod("other", "plain", { app: "x" })],
    secrets: [],
  });
  const cache = new SnapshotCache();
  const writer = new RecordingWriter();
  const reports = new MemoryReports();
  const metrics = new ControllerMetrics();
  controller = new Controller({
    objects,
    writer,
    reports,
    cache,
    leadership: new FixedLeadership(true),
    clock: options.clock ?? ((): Date => new Date("2026-11-25T12:00:00Z")),
    metrics,
    log: silentLog,
    buildSnapshot: realSnapshot,
    debounceMs: options.debounceMs ?? 1,
  });
  return { controller, objects, cache, writer, reports, metrics };
}

async function reconcileCount(metrics: ControllerMetrics): Promise<number> {
  return (await metrics.reconcileSeconds.get()).values.find((v) => v.metricName?.endsWith("_count"))?.value ?? 0;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const programmed = (writer: RecordingWriter): string | undefined => writer.statuses.at(-1)?.status.conditions?.find((c) => c.type === "Programmed")?.reason;

describe("Controller (its runners in process)", () => {
  it("serves every sidecar, governed or pass-through, and writes Programmed once the sidecar acknowledges", async () => {
    const { controller, cache, writer, reports } = setup();
    expect(controller.isSynced()).toBe(false);
    await controller.start();
    await waitFor("snapshots", () => cache.getSnapshot("api-1.shop") && cache.getSnapshot("plain.other"));
    await waitFor("synced", () => controller.isSynced());
    expect([...reports.retained].sort()).toEqual(["api-1.shop", "plain.other"]);
    await waitFor("Pending", () => programmed(writer) === "Pending");
    cache.streamOpened("api-1.shop");
    acknowledgeAll(cache, "api-1.shop");
    await waitFor("Programmed", () => programmed(writer) === "Programmed");
    expect(reports.collect?.().get("api-1.shop")).toEqual({ policy: "shop/api", generation: 1, connected: true });
  });

  it("turns a NACK into Programmed=False Rejected, and clears the snapshot of a pod that is gone", async () => {
    const { controller, objects, cache, writer } = setup();
    await controller.start();
    await waitFor("snapshot", () => cache.getSnapshot("api-1.shop"));
    cache.streamOpened("api-1.shop");
    rejectListeners(cache, "api-1.shop", "invalid listener");
    await waitFor("Rejected", () => programmed(writer) === "Rejected");
    objects.input.pods = objects.input.pods.filter((p) => p.metadata.name !== "plain");
    controller.schedule();
    await waitFor("cleared", () => cache.getSnapshot("plain.other") === undefined);
  });

  it("reconciles a change after a quiet spell at once, and a burst at most once per debounce interval", async () => {
    const debounceMs = 400;
    const { controller, metrics } = setup({ debounceMs });
    await controller.start();
    await waitFor("the first reconcile", async () => (await reconcileCount(metrics)) === 1);
    await sleep(debounceMs + 50);
    const changed = performance.now();
    controller.schedule();
    await waitFor("the reconcile of the change", async () => (await reconcileCount(metrics)) === 2);
    expect(performance.now() - changed).toBeLessThan(debounceMs);
    // A burst right after: one more reconcile, once the interval since the last one has passed.
    const burst = performance.now();
    for (let i = 0; i < 3; i++) controller.schedule();
    await sleep(100);
    expect(await reconcileCount(metrics)).toBe(2);
    await waitFor("the reconcile of the burst", async () => (await reconcileCount(metrics)) === 3);
    expect(performance.now() - burst).toBeGreaterThanOrEqual(debounceMs - 100 - 5);
    await sleep(debounceMs + 50);
    expect(await reconcileCount(metrics)).toBe(3);
  });

  it("does not translate before every kind is listed", async () => {
    const { controller, objects, cache } = setup();
    objects.listed = false;
    await controller.start();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(cache.nodeIds()).toEqual([]);
    objects.listed = true;
    controller.schedule();
    await waitFor("snapshot", () => cache.getSnapshot("api-1.shop"));
  });

  it("translates again when a sunset passes, with no change of objects (the resolution says when)", async () => {
    let now = new Date(Date.parse("2027-01-01T00:00:00Z") - 100);
    const deprecations = [{ pathPrefix: "/v1/", deprecatedAt: "2026-06-01", sunsetAt: "2027-01-01" }];
    const { controller, cache } = setup({ spec: { mobile: { deprecations } }, clock: () => now });
    await controller.start();
    const before = await waitFor("snapshot", () => cache.getSnapshot("api-1.shop")?.version);
    now = new Date("2027-01-01T00:00:00.001Z");
    await waitFor("the snapshot after the sunset", () => cache.getSnapshot("api-1.shop")?.version !== before, 5_000);
  });
});
