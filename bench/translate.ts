/**
 * Benchmark: the pure translation (resolve → IR → Envoy resources) and the protobuf encoding of
 * every sidecar's snapshot, for 1,000 and 10,000 policies over 1,000 workloads.
 */
import fc from "fast-check";
import { mkdir, writeFile } from "node:fs/promises";
import { performance } from "node:perf_hooks";
import { sidecarSnapshot } from "../envoy/snapshot/sidecar-snapshot.js";
import type { TranslationInput } from "../operator/resolve/objects.js";
import { policy, service, sidecarPod } from "../operator/testdata/objects.js";
import { policySpecArbitrary } from "../operator/testdata/random-policies.js";
import { render } from "../operator/translate/render.js";
import type { Benchmark } from "./benchmark.js";
import { percentileOf } from "./stats.js";

export interface TranslateBenchRow {
  policies: number;
  workloads: number;
  runs: number;
  /** Fresh objects every run: every policy parsed and translated. */
  renderMs: { median: number; p99: number };
  /** The same objects again (what the controller does after one edit): unchanged policies come from the memo. */
  warmRenderMs: { median: number; p99: number };
  encodeMs: { median: number; p99: number };
  routes: number;
}

function input(policies: number, workloads: number): TranslationInput {
  const specs = fc.sample(policySpecArbitrary, { numRuns: policies, seed: 7 });
  return {
    policies: specs.map((spec, i) =>
      policy({
        name: `p-${i}`,
        created: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
        spec: { targetRefs: [{ kind: "Service", name: `svc-${i % workloads}` }], ...spec },
      }),
    ),
    services: Array.from({ length: workloads }, (_, i) => service("shop", `svc-${i}`, { app: `svc-${i}` })),
    pods: Array.from({ length: workloads }, (_, i) => sidecarPod("shop", `svc-${i}-pod`, { app: `svc-${i}` })),
    secrets: [],
    now: "2026-11-25T12:00:00Z",
  };
}

export function runTranslateBench(): TranslateBenchRow[] {
  const rows: TranslateBenchRow[] = [];
  for (const [policies, runs] of [
    [1_000, 7],
    [10_000, 5],
  ] as const) {
    const workloads = 1_000;
    const data = input(policies, workloads);
    const renderTimes: number[] = [];
    const warmTimes: number[] = [];
    const encodeTimes: number[] = [];
    let routes = 0;
    for (let run = 0; run < runs; run++) {
      const fresh = structuredClone(data);
      const t0 = performance.now();
      const rendered = render(fresh);
      const t1 = performance.now();
      render(fresh);
      warmTimes.push(performance.now() - t1);
      const t1b = performance.now();
      for (const w of rendered.workloads) sidecarSnapshot(w.resources);
      const t2 = performance.now();
      renderTimes.push(t1 - t0);
      encodeTimes.push(t2 - t1b);
      routes = rendered.ir.workloads.reduce((n, w) => n + w.routes.length, 0);
    }
    rows.push({
      policies,
      workloads,
      runs,
      renderMs: { median: percentileOf(renderTimes, 0.5), p99: percentileOf(renderTimes, 0.99) },
      warmRenderMs: { median: percentileOf(warmTimes, 0.5), p99: percentileOf(warmTimes, 0.99) },
      encodeMs: { median: percentileOf(encodeTimes, 0.5), p99: percentileOf(encodeTimes, 0.99) },
      routes,
    });
  }
  return rows;
}

export const translate: Benchmark = { name: "translate", run: translateBench };

export async function translateBench(): Promise<void> {
  const rows = runTranslateBench();
  process.stdout.write("\ntranslation (resolve → IR → Envoy resources) and snapshot encoding, 1 process, this machine\n");
  process.stdout.write("policies  workloads  runs  render median  render p99  warm median  encode median  encode p99  routes\n");
  for (const r of rows) {
    process.stdout.write(
      `${String(r.policies).padEnd(10)}${String(r.workloads).padEnd(11)}${String(r.runs).padEnd(6)}${`${r.renderMs.median.toFixed(0)} ms`.padEnd(15)}${`${r.renderMs.p99.toFixed(0)} ms`.padEnd(12)}${`${r.warmRenderMs.median.toFixed(0)} ms`.padEnd(13)}${`${r.encodeMs.median.toFixed(0)} ms`.padEnd(15)}${`${r.encodeMs.p99.toFixed(0)} ms`.padEnd(12)}${r.routes}\n`,
    );
  }
  await mkdir(new URL("./results/", import.meta.url), { recursive: true });
  await writeFile(new URL("./results/translate.json", import.meta.url), `${JSON.stringify({ node: process.version, rows }, null, 2)}\n`);
}
