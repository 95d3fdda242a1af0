import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";

const chart = join(import.meta.dirname, "..", "..", "charts", "bulwark");

/** The `| \`key\` | \`default\` | … |` rows of the chart README's values table. */
function documentedValues(readme: string): { key: string; shown: string }[] {
  return [...readme.matchAll(/^\| `([A-Za-z0-9.]+)` \| `([^`]*)` \|/gm)].map((match) => ({ key: match[1] ?? "", shown: match[2] ?? "" }));
}

function valueAt(values: unknown, key: string): unknown {
  let node: unknown = values;
  for (const part of key.split(".")) {
    if (typeof node !== "object" || node === null || !(part in node)) return Symbol.for("missing");
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

/** How the README writes a default: strings bare (empty as ""), everything else as YAML flow/JSON. */
function shown(value: unknown): string {
  if (typeof value === "string") return value === "" ? '""' : value;
  return JSON.stringify(value);
}

describe("charts/bulwark/README.md", () => {
  const readme = readFileSync(join(chart, "README.md"), "utf8");
  const values = parse(readFileSync(join(chart, "values.yaml"), "utf8")) as unknown;

  it("documents values that exist in values.yaml, with values.yaml's defaults", () => {
    const rows = documentedValues(readme);
    expect(rows.length).toBeGreaterThan(10);
    const wrong = rows
      .filter((row) => shown(valueAt(values, row.key)) !== row.shown)
      .map((row) => `${row.key}: README ${row.shown}, values.yaml ${String(shown(valueAt(values, row.key)))}`);
    expect(wrong).toEqual([]);
  });

  it("installs the image the chart names by default", () => {
    const { appVersion } = parse(readFileSync(join(chart, "Chart.yaml"), "utf8")) as { appVersion: string };
    expect(readme).toContain(`bulwark:${appVersion}`);
  });
});

describe("README.md, Install on a cluster", () => {
  const readme = readFileSync(join(chart, "..", "..", "README.md"), "utf8");

  it("its first policy is valid for the operator's schema", async () => {
    const { apiSecurityPolicy } = await import("../../operator/api/v1alpha1/index.js");
    const section = readme.slice(readme.indexOf("## Install on a cluster"));
    const policy = /<<'YAML'\n([\s\S]*?)\nYAML\n/.exec(section)?.[1];
    expect(policy).toBeDefined();
    const result = apiSecurityPolicy.safeParse(parse(policy ?? ""));
    expect(result.error?.issues ?? []).toEqual([]);
  });

  it("names the values it sets as values.yaml has them", () => {
    const values = parse(readFileSync(join(chart, "values.yaml"), "utf8")) as unknown;
    const section = readme.slice(readme.indexOf("## Install on a cluster"), readme.indexOf("## Components"));
    const keys = [...section.matchAll(/--set ([A-Za-z0-9.]+)=/g)].map((match) => match[1] ?? "");
    expect(keys.length).toBeGreaterThan(3);
    expect(keys.filter((key) => valueAt(values, key) === Symbol.for("missing"))).toEqual([]);
  });
});

describe("charts/bulwark/values.schema.json", () => {
  type SchemaNode = { description?: string; properties?: Record<string, SchemaNode> };
  const schema = JSON.parse(readFileSync(join(chart, "values.schema.json"), "utf8")) as SchemaNode;
  const values = parse(readFileSync(join(chart, "values.yaml"), "utf8")) as Record<string, unknown>;

  it("describes every value of values.yaml (down to free-form objects such as securityContexts)", () => {
    const undescribed: string[] = [];
    const walk = (node: unknown, schemaNode: SchemaNode | undefined, path: string): void => {
      if (typeof node !== "object" || node === null || Array.isArray(node)) return;
      for (const [key, value] of Object.entries(node)) {
        const child = schemaNode?.properties?.[key];
        if (!child?.description?.trim()) undescribed.push(`${path}${key}`);
        if (child?.properties) walk(value, child, `${path}${key}.`);
      }
    };
    walk(values, schema, "");
    expect(undescribed).toEqual([]);
    // And the schema has no property without one either.
    const bare: string[] = [];
    const all = (n: SchemaNode, path: string): void => {
      for (const [key, child] of Object.entries(n.properties ?? {})) {
        if (!child.description?.trim()) bare.push(`${path}${key}`);
        all(child, `${path}${key}.`);
      }
    };
    all(schema, "");
    expect(bare).toEqual([]);
  });
});
