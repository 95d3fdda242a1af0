import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { goldenCases, goldenDir, goldenDiscovery, goldenNow, goldenSettings } from "./golden-cases.js";
import { readObjects } from "./read-objects.js";
import { render, renderFiles } from "./render.js";

/**
 * Golden tests of the whole translation: testdata/translate/<case>.in.yaml → <case>.out/ with
 * the policy status, the IR and one file per xDS type. `UPDATE_GOLDEN=1 npx vitest run
 * operator/translate/golden.test.ts` rewrites them and deletes stale outputs; every output is
 * also checked by the real Envoy (test/integration/translate/golden-envoy.test.ts).
 */
const update = process.env.UPDATE_GOLDEN === "1";

function renderCase(name: string): Record<string, string> {
  const path = join(goldenDir, `${name}.in.yaml`);
  const { input, problems } = readObjects([{ path, text: readFileSync(path, "utf8") }]);
  expect(problems).toEqual([]);
  return renderFiles(render({ ...input, now: goldenNow, oidcDiscovery: goldenDiscovery }, goldenSettings(name)));
}

describe("golden translation", () => {
  const cases = goldenCases();

  if (update) {
    it("rewrites the golden outputs and removes stale ones", () => {
      for (const dir of readdirSync(goldenDir).filter((f) => f.endsWith(".out"))) {
        if (!cases.includes(dir.slice(0, -4))) rmSync(join(goldenDir, dir), { recursive: true });
      }
      for (const name of cases) {
        const outDir = join(goldenDir, `${name}.out`);
        rmSync(outDir, { recursive: true, force: true });
        mkdirSync(outDir);
        for (const [file, text] of Object.entries(renderCase(name))) writeFileSync(join(outDir, file), text);
      }
    });
    return;
  }

  it("has a case per capability and per conflict rule", () => {
    expect(cases.length).toBeGreaterThanOrEqual(25);
    expect(
      readdirSync(goldenDir)
        .filter((f) => f.endsWith(".out"))
        .sort(),
    ).toEqual(cases.map((c) => `${c}.out`));
  });

  it.each(cases)("%s", (name) => {
    const outDir = join(goldenDir, `${name}.out`);
    expect(existsSync(outDir), `${name}.out is missing: run UPDATE_GOLDEN=1 npx vitest run operator/translate/golden.test.ts`).toBe(true);
    const files = renderCase(name);
    expect(readdirSync(outDir).sort()).toEqual(Object.keys(files).sort());
    for (const [file, text] of Object.entries(files)) {
      expect(text, `${name}.out/${file} differs: run UPDATE_GOLDEN=1 npx vitest run operator/translate/golden.test.ts and review the diff`).toBe(
        readFileSync(join(outDir, file), "utf8"),
      );
    }
    // Determinism: a second render of the same input is byte-identical.
    expect(renderCase(name)).toEqual(files);
  });
});
