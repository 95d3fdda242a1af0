import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { importCycles, importGraph, typeScriptFiles } from "./import-cycles.js";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

describe("import cycles", () => {
  it("the tree has none (type-only imports included)", () => {
    const graph = importGraph(repoRoot, typeScriptFiles(repoRoot));
    expect(graph.size).toBeGreaterThan(200);
    expect(importCycles(graph)).toEqual([]);
  });

  it("finds a cycle through a type-only import, across folders", () => {
    const root = mkdtempSync(join(tmpdir(), "bulwark-cycles-"));
    mkdirSync(join(root, "a"));
    mkdirSync(join(root, "b"));
    writeFileSync(join(root, "a", "one.ts"), 'import { two } from "../b/two.js";\nexport const one = two + 1;\n');
    writeFileSync(join(root, "b", "two.ts"), 'import type { Three } from "./three.js";\nexport const two: Three = 2;\n');
    writeFileSync(join(root, "b", "three.ts"), 'import type { one } from "../a/one.js";\nexport type Three = typeof one;\n');
    writeFileSync(join(root, "b", "alone.ts"), 'import { one } from "../a/one.js";\nexport const alone = one;\n');
    expect(importCycles(importGraph(root, typeScriptFiles(root)))).toEqual([["a/one.ts", "b/three.ts", "b/two.ts"]]);
  });
});
