import fc from "fast-check";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { goldenCases, goldenDir, goldenDiscovery, goldenNow, goldenSettings } from "../../../operator/translate/golden-cases.js";
import { readObjects } from "../../../operator/translate/read-objects.js";
import { defaultSettings, render, type RenderedWorkload } from "../../../operator/translate/render.js";
import type { PodObject, ServiceObject, TranslationInput } from "../../../operator/resolve/objects.js";
import { inputFor, policySpecArbitrary } from "../../../operator/testdata/random-policies.js";
import { service, sidecarPod } from "../../../operator/testdata/objects.js";
import { validateSidecarResources } from "../../support/envoy-validate.js";

async function expectEnvoyAccepts(workloads: RenderedWorkload[], what: string): Promise<void> {
  for (const w of workloads) {
    const verdict = await validateSidecarResources(w.resources);
    expect(verdict, `${what}: Envoy refused workload ${w.workload}`).toEqual({ accepted: true });
  }
}

function renderFile(path: string): TranslationInput {
  const { input, problems } = readObjects([{ path, text: readFileSync(path, "utf8") }]);
  expect(problems).toEqual([]);
  return { ...input, now: goldenNow, oidcDiscovery: goldenDiscovery };
}

describe("every golden Envoy configuration is accepted by the real Envoy (--mode validate)", () => {
  it.each(goldenCases())("%s", async (name) => {
    // The unit golden test proves this render equals <name>.out/ byte for byte.
    const rendered = render(renderFile(join(goldenDir, `${name}.in.yaml`)), goldenSettings(name));
    await expectEnvoyAccepts(rendered.workloads, name);
  });
});

describe("the render of every example is accepted by the real Envoy", () => {
  const examples = fileURLToPath(new URL("../../../examples/", import.meta.url));
  it.each(readdirSync(examples).filter((f) => f.endsWith(".yaml")))("%s", async (file) => {
    const input = renderFile(join(examples, file));
    // Give each example's targets a sidecar pod, so it has a workload to render.
    const services: ServiceObject[] = [];
    const pods: PodObject[] = [];
    for (const [i, raw] of input.policies.entries()) {
      const p = raw as { metadata: { namespace?: string }; spec: { targetRefs?: { name: string }[]; podSelector?: { matchLabels: Record<string, string> } } };
      p.metadata.namespace ??= "examples";
      for (const ref of p.spec.targetRefs ?? []) {
        services.push(service("examples", ref.name, { app: ref.name }));
        pods.push(sidecarPod("examples", `${ref.name}-${i}`, { app: ref.name }));
      }
      if (p.spec.podSelector) pods.push(sidecarPod("examples", `selected-${i}`, p.spec.podSelector.matchLabels));
    }
    // As the chart installs it: with mesh identity (examples/internal-callers.yaml needs it).
    const rendered = render(
      { ...input, services: [...input.services, ...services], pods: [...input.pods, ...pods] },
      { ...defaultSettings, mesh: { trustDomain: "cluster.local", clusterDomain: "cluster.local" } },
    );
    expect(rendered.workloads.length).toBeGreaterThan(0);
    expect(rendered.workloads.every((w) => !w.workload.startsWith("passthrough/"))).toBe(true);
    await expectEnvoyAccepts(rendered.workloads, file);
  });
});

describe("a sample of random valid policies", () => {
  it("renders configurations the real Envoy accepts", async () => {
    const specs = fc.sample(policySpecArbitrary, { numRuns: 12, seed: 42 });
    for (const [i, spec] of specs.entries()) await expectEnvoyAccepts(render(inputFor(spec, i)).workloads, `random policy ${i}: ${JSON.stringify(spec)}`);
  });
});
