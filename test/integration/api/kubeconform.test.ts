/**
 * The published JSON Schema (schemas/, from the zod source by `npm run generate`) as
 * kubeconform users meet it: the real kubeconform, built from the Go module proxy, validates the
 * examples and refuses every bad manifest whose fault a JSON Schema can state. The rest of the
 * bad-manifest table breaks CEL rules that relate fields or use CEL functions (durations in a
 * range, CIDRs, calendar dates); only the API server and the operator check those.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { apiSecurityPolicyCrd } from "../../../operator/api/crd.js";
import { jsonSchemaFile, renderJsonSchema, rulesBeyondJsonSchema } from "../../../operator/api/json-schema.js";
import { kubeconformTool, provisionGoTool } from "../../env/provision/go-tools.js";
import { consoleSteps } from "../../env/steps.js";
import { badPolicies, validPolicy } from "../../fixtures/bad-policies.js";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
/** kubeconform's own layout: the lower-case kind, then -<group's first label>-<version>. */
const schemaLocation = join(repoRoot, "schemas", "{{ .ResourceKind }}{{ .KindSuffix }}.json");
let kubeconform = "";

/** What a wanted error says after `<field>: Invalid value: ["<value>": ]`: the start of a rule's message, or a part of it. */
function ruleText(wantError: string): string {
  return wantError.replace(/^[^:]*: Invalid value: ("(?:[^"\\]|\\.)*": )?/, "");
}

interface Verdict {
  filename: string;
  kind: string;
  status: string;
  msg: string;
}

/** kubeconform -strict on `paths`, every resource's verdict (-verbose lists the valid ones too). */
function validate(paths: readonly string[]): Promise<{ code: number | null; resources: Verdict[]; summary: Record<string, number> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(kubeconform, ["-strict", "-verbose", "-summary", "-output", "json", "-schema-location", schemaLocation, ...paths], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (out += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (err += c));
    child.on("error", reject);
    child.on("close", (code) => {
      try {
        const parsed = JSON.parse(out) as { resources: Verdict[]; summary: Record<string, number> };
        resolve({ code, ...parsed });
      } catch {
        reject(new Error(`kubeconform exited with ${code}: ${err || out}`));
      }
    });
  });
}

beforeAll(async () => {
  kubeconform = (await provisionGoTool(kubeconformTool, consoleSteps("kubeconform"))).path;
}, 600_000);

describe("the published JSON Schema with the real kubeconform", () => {
  it("is what `npm run generate` writes from the zod source", async () => {
    expect(await readFile(join(repoRoot, jsonSchemaFile), "utf8")).toBe(renderJsonSchema());
  });

  it("validates every example", async () => {
    const examples = (await readdir(join(repoRoot, "examples"))).filter((f) => f.endsWith(".yaml"));
    const { code, resources, summary } = await validate([join(repoRoot, "examples")]);
    expect(resources.filter((r) => r.status !== "statusValid")).toEqual([]);
    expect(summary).toMatchObject({ valid: examples.length, invalid: 0, errors: 0, skipped: 0 });
    expect(code).toBe(0);
  });

  it("refuses every bad manifest whose fault a JSON Schema can state", async () => {
    const dir = await mkdtemp(join(tmpdir(), "bulwark-kubeconform-"));
    for (const [index, c] of badPolicies.entries()) {
      const policy = validPolicy();
      policy.metadata.name = `bad-${index}`;
      c.mutate(policy);
      await writeFile(join(dir, `bad-${index}.json`), JSON.stringify(policy));
    }
    const { code, resources } = await validate([dir]);
    expect(code).toBe(1);
    const verdicts = new Map(resources.map((r) => [r.filename, r]));
    const beyond = rulesBeyondJsonSchema(apiSecurityPolicyCrd());
    const onlyCel = (wantErrors: readonly string[]): boolean => wantErrors.every((w) => beyond.some((message) => w.includes(message) || message.includes(ruleText(w))));
    const expressible = badPolicies.map((c, index) => ({ ...c, index })).filter((c) => !onlyCel(c.wantErrors));
    const accepted = expressible
      .filter((c) => verdicts.get(join(dir, `bad-${c.index}.json`))?.status !== "statusInvalid")
      .map((c) => `${c.description}: ${c.wantErrors.join(" | ")}`);
    expect(accepted, "the JSON Schema lets these through though it could state their fault").toEqual([]);
    // Most of the table is within a JSON Schema's reach; a schema that lost its patterns or its closed objects would fail above.
    expect(expressible.length).toBeGreaterThanOrEqual(90);
    // Every verdict is about the schema (no schema missing or unreadable).
    expect(resources.filter((r) => r.status === "statusError")).toEqual([]);
  });
});
