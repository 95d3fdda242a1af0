import { describe, expect, it } from "vitest";
import type { TranslationInput } from "../resolve/objects.js";
import { service, sidecarPod } from "../testdata/objects.js";
import { translate } from "../translate/translate.js";
import { TranslationRunner } from "./translation-runner.js";

const mesh = { trustDomain: "cluster.local", clusterDomain: "cluster.local" };

function objects(services: string[]): TranslationInput {
  return {
    policies: [],
    services: services.map((s) => service("shop", s, { app: "api" })),
    pods: [sidecarPod("shop", "api-1", { app: "api" })],
    secrets: [],
    now: "2026-11-25T12:00:00Z",
  };
}

describe("TranslationRunner", () => {
  it("hands back the previous mesh object while the mesh is unchanged (its encoded resources are reused), a new one when it changes", () => {
    const runner = new TranslationRunner(mesh);
    const first = runner.run(objects(["api"])).ir.mesh;
    expect(first).toBeDefined();
    expect(translate(objects(["api"]), mesh).ir.mesh).not.toBe(first); // translation alone builds a new object
    expect(runner.run(objects(["api"])).ir.mesh).toBe(first);
    const changed = runner.run(objects(["api", "web"])).ir.mesh;
    expect(changed).not.toBe(first);
    expect(changed).not.toEqual(first);
  });

  it("builds no mesh without mesh settings", () => {
    expect(new TranslationRunner().run(objects(["api"])).ir.mesh).toBeUndefined();
  });
});
