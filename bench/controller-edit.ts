/**
 * One policy edit at 1,000 policies × 1,000 workloads, in process: the controller's runners
 * (operator/controller/controller.ts) with the real snapshot encoding, xDS cache and workload CA,
 * in-memory objects and a status writer that hands back a new policy object when it writes (as
 * the watch would). Measures the full resync (first reconcile) and, per edit, the time from the
 * change of objects to the edited sidecar's new snapshot in the cache, and the reconcile's
 * duration. No API server, no network: what is left is the controller's own work, which
 * bench/controller-apply.ts measures end to end. BENCH_EDIT_PROFILE=FILE writes a CPU profile of the edits.
 */
import { generateKeyPairSync } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { Session } from "node:inspector/promises";
import { cpus, loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { buildSidecarResources } from "../envoy/build/sidecar.js";
import { sharedEncodingSnapshot } from "../envoy/snapshot/shared-encoding.js";
import { SnapshotCache } from "../envoy/xds/cache.js";
import type { PolicyStatus } from "../operator/api/v1alpha1/policy.js";
import { Controller } from "../operator/controller/controller.js";
import { ControllerMetrics } from "../operator/controller/metrics.js";
import { WorkloadCa } from "../operator/identity/ca.js";
import { WorkloadCertificates } from "../operator/identity/workload-certificates.js";
import type { PolicyRef } from "../operator/kube/status-writer.js";
import { SidecarAnnotation, type PodObject } from "../operator/resolve/objects.js";
import { defaultSettings } from "../operator/translate/render.js";
import { acknowledgeAll, FixedLeadership, MemoryObjects, MemoryReports, RecordingWriter, silentLog } from "../test/support/controller-fakes.js";
import type { Benchmark } from "./benchmark.js";
import { percentiles } from "./stats.js";
import { benchSpec } from "./controller-apply.js";

/** The issuer of bench/controller-apply.ts's scale scenario, whose policy spec this one edits. */
const IDP = { issuer: "https://idp.bench.bulwark.test/", audience: "bench-api" };
const N = 1000;
const EDITS = 30;
const mesh = { trustDomain: "cluster.local", clusterDomain: "cluster.local" };
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

type Policy = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; uid: string; generation: number; creationTimestamp: string };
  spec: unknown;
  status?: PolicyStatus;
};

function policyObject(name: string, index: number, generation: number): Policy {
  const created = new Date(Date.UTC(2026, 0, 1) + index * 1000).toISOString();
  return {
    apiVersion: "bulwark.dev/v1alpha1",
    kind: "APISecurityPolicy",
    metadata: { name, namespace: "bench", uid: `uid-${name}`, generation, creationTimestamp: created },
    spec: benchSpec(name, IDP, generation % 2 ? "orders:read" : "orders:write"),
  };
}

function pod(name: string): PodObject {
  return {
    metadata: { name: `${name}-0`, namespace: "bench", labels: { app: name }, annotations: { [SidecarAnnotation.sidecarPort]: "15001", [SidecarAnnotation.appPort]: "8080" } },
    status: { phase: "Running", podIP: "127.0.0.1", conditions: [{ type: "Ready", status: "True" }] },
  };
}

async function run(): Promise<void> {
  const names = Array.from({ length: N }, (_, i) => `w-${String(i).padStart(4, "0")}`);
  const jwk = { ...generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ format: "jwk" }), kid: "k1", alg: "ES256", use: "sig" };
  const objects = new MemoryObjects({
    policies: names.map((n, i) => policyObject(n, i, 1)),
    services: names.map((n) => ({ metadata: { name: n, namespace: "bench" }, spec: { selector: { app: n }, ports: [{ port: 80, targetPort: 15001 }] } })),
    pods: names.map(pod),
    secrets: [{ metadata: { name: "idp-jwks", namespace: "bench" }, stringData: { "jwks.json": JSON.stringify({ keys: [jwk] }) } }],
  });
  // Writes hand back a new policy object with the status, as the watch cache would.
  const writer = new (class extends RecordingWriter {
    override write(ref: PolicyRef, current: PolicyStatus | undefined, desired: PolicyStatus): Promise<boolean> {
      if (JSON.stringify(current) === JSON.stringify(desired)) return Promise.resolve(false);
      objects.input.policies = objects.input.policies.map((p) => ((p as Policy).metadata.name === ref.name ? { ...(p as Policy), status: desired } : p));
      return Promise.resolve(true);
    }
  })();
  /** Time in buildSnapshot: the Envoy resources, and their encoding into a snapshot. */
  const envoyMs = { resources: 0, encode: 0 };
  const now = new Date("2026-11-25T12:00:00Z");
  const certificates = new WorkloadCertificates(await WorkloadCa.generate("cluster.local", now), { rotation: { lifetimeMs: 24 * 3600_000, renewAfter: 2 / 3 } });
  const cache = new SnapshotCache();
  const metrics = new ControllerMetrics();
  const settings = { ...defaultSettings, mesh };
  const controller = new Controller({
    objects,
    writer,
    reports: new MemoryReports(),
    cache,
    leadership: new FixedLeadership(true),
    clock: () => now,
    metrics,
    log: silentLog,
    buildSnapshot: (w, m) => {
      const started = performance.now();
      const resources = buildSidecarResources(w, settings, m);
      const built = performance.now();
      const snapshot = sharedEncodingSnapshot(resources);
      envoyMs.resources += built - started;
      envoyMs.encode += performance.now() - built;
      return snapshot;
    },
    certificates,
    mesh,
    debounceMs: 0,
  });
  const reconcile = async (): Promise<{ count: number; sum: number }> => {
    const values = (await metrics.reconcileSeconds.get()).values;
    return { count: values.find((v) => v.metricName?.endsWith("_count"))?.value ?? 0, sum: values.find((v) => v.metricName?.endsWith("_sum"))?.value ?? 0 };
  };
  /** Per stage (bulwark_reconcile_stage_duration_seconds), the total so far in ms and how many were observed. */
  const stages = async (): Promise<Map<string, { ms: number; count: number }>> => {
    const out = new Map<string, { ms: number; count: number }>();
    for (const v of (await metrics.reconcileStageSeconds.get()).values) {
      const stage = String(v.labels.stage);
      const entry = out.get(stage) ?? { ms: 0, count: 0 };
      if (v.metricName?.endsWith("_sum")) entry.ms = v.value * 1000;
      if (v.metricName?.endsWith("_count")) entry.count = v.value;
      out.set(stage, entry);
    }
    return out;
  };
  const cpuMs = (since: NodeJS.CpuUsage): number => {
    const used = process.cpuUsage(since);
    return (used.user + used.system) / 1000;
  };
  const load = { start: loadavg()[0] ?? 0, end: 0 };
  const t0 = performance.now();
  const resyncCpu = process.cpuUsage();
  await controller.start();
  while ((await reconcile()).count < 1) await sleep(5);
  const resyncMs = performance.now() - t0;
  const resyncCpuMs = cpuMs(resyncCpu);
  const resyncStages = await stages();
  const resyncEnvoy = { ...envoyMs };
  for (const n of names) acknowledgeAll(cache, `${n}-0.bench`);
  await sleep(500);
  const session = new Session();
  const profile = process.env.BENCH_EDIT_PROFILE;
  if (profile) {
    session.connect();
    await session.post("Profiler.enable");
    await session.post("Profiler.start");
  }
  const snapshotMs: number[] = [];
  const reconcileMs: number[] = [];
  const snapshotCpuMs: number[] = [];
  const editCpuMs: number[] = [];
  const stagesBefore = await stages();
  const envoyBefore = { ...envoyMs };
  for (let e = 0; e < EDITS; e++) {
    const i = (e * 37) % N;
    const old = objects.input.policies[i] as Policy;
    objects.input.policies = objects.input.policies.map((p, j) => (j === i ? policyObject(old.metadata.name, i, old.metadata.generation + 1) : p));
    const node = `${old.metadata.name}-0.bench`;
    const before = cache.getSnapshot(node)?.version;
    const r0 = await reconcile();
    const cpu = process.cpuUsage();
    const start = performance.now();
    controller.schedule(0);
    while (cache.getSnapshot(node)?.version === before) await tick();
    snapshotMs.push(performance.now() - start);
    snapshotCpuMs.push(cpuMs(cpu));
    while ((await reconcile()).count === r0.count) await tick();
    reconcileMs.push(((await reconcile()).sum - r0.sum) * 1000);
    acknowledgeAll(cache, node);
    await sleep(100);
    // Everything the edit caused: the reconcile, its status write, and the one after the ACK.
    editCpuMs.push(cpuMs(cpu));
  }
  const stagesAfter = await stages();
  const perEdit = (stage: string): number => Math.round((((stagesAfter.get(stage)?.ms ?? 0) - (stagesBefore.get(stage)?.ms ?? 0)) / EDITS) * 100) / 100;
  const stageNames = ["input", "resolve", "ir", "snapshots", "status"];
  if (profile) await writeFile(profile, JSON.stringify((await session.post("Profiler.stop")).profile));
  await controller.stop();
  load.end = loadavg()[0] ?? 0;
  const report = {
    benchmark: "controller-edit",
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, node: process.version, load },
    policies: N,
    workloads: N,
    resyncMs: Math.round(resyncMs),
    resyncCpuMs: Math.round(resyncCpuMs),
    resyncStagesMs: {
      ...Object.fromEntries(stageNames.map((n) => [n, Math.round(resyncStages.get(n)?.ms ?? 0)])),
      envoyResources: Math.round(resyncEnvoy.resources),
      encode: Math.round(resyncEnvoy.encode),
    },
    edit: {
      snapshotSetMs: percentiles(snapshotMs),
      reconcileMs: percentiles(reconcileMs),
      /** Process CPU from the change to its snapshot set, and to the end of everything it caused (status writes included). */
      snapshotSetCpuMs: percentiles(snapshotCpuMs),
      cpuMs: percentiles(editCpuMs),
      /** Mean time per edit in each stage (status: every status write the edit caused). */
      stagesMs: {
        ...Object.fromEntries(stageNames.map((n) => [n, perEdit(n)])),
        envoyResources: Math.round(((envoyMs.resources - envoyBefore.resources) / EDITS) * 100) / 100,
        encode: Math.round(((envoyMs.encode - envoyBefore.encode) / EDITS) * 100) / 100,
      },
    },
  };
  console.log(
    `${N} policies × ${N} workloads, in process: full resync ${report.resyncMs} ms; one edit → its snapshot set p50 ${report.edit.snapshotSetMs.p50} ms, p99 ${report.edit.snapshotSetMs.p99} ms; reconcile p50 ${report.edit.reconcileMs.p50} ms (load ${load.start.toFixed(2)} → ${load.end.toFixed(2)})`,
  );
  console.log(
    `CPU: resync ${report.resyncCpuMs} ms; per edit to its snapshot p50 ${report.edit.snapshotSetCpuMs.p50} ms, p99 ${report.edit.snapshotSetCpuMs.p99} ms; per edit in all p50 ${report.edit.cpuMs.p50} ms, p99 ${report.edit.cpuMs.p99} ms`,
  );
  console.log(`stages per edit (mean ms): ${JSON.stringify(report.edit.stagesMs)}; resync: ${JSON.stringify(report.resyncStagesMs)}`);
  if (process.env.BENCH_EDIT_NO_WRITE === "1") return;
  await mkdir(new URL("./results/", import.meta.url), { recursive: true });
  await writeFile(new URL("./results/controller-edit.json", import.meta.url), `${JSON.stringify(report, null, 2)}\n`);
}

export const controllerEdit: Benchmark = { name: "controller-edit", run };
