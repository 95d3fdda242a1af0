import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import type { IR } from "../../contract/ir.js";
import { goldenCases, goldenDir, goldenSettings } from "../../operator/translate/golden-cases.js";
import { xdsFiles, xdsGoldenFiles } from "../../operator/translate/render.js";
import { buildSidecarResources } from "./sidecar.js";

/**
 * The IR → Envoy boundary alone: each golden case's IR (`<case>.out/ir.yaml`, written by the
 * whole-pipeline golden test) goes through envoy/build only, and must give the same listeners,
 * routes, clusters, endpoints and secrets byte for byte. A change of the Envoy side shows here
 * without the Kubernetes side; a change of the IR shows in ir.yaml first.
 */
describe("golden IR → Envoy resources", () => {
  it.each(goldenCases())("%s", (name) => {
    const outDir = join(goldenDir, `${name}.out`);
    const ir = parse(readFileSync(join(outDir, "ir.yaml"), "utf8")) as IR;
    const settings = goldenSettings(name);
    const workloads = ir.workloads.map((workload) => ({ workload: workload.name, sidecars: workload.sidecars, resources: buildSidecarResources(workload, settings, ir.mesh) }));
    const files = xdsGoldenFiles(workloads);
    expect(Object.keys(files)).toEqual(xdsFiles.map((type) => `${type}.yaml`));
    for (const [file, text] of Object.entries(files)) {
      expect(text, `${name}.out/${file} differs when built from ${name}.out/ir.yaml`).toBe(readFileSync(join(outDir, file), "utf8"));
    }
  });
});
