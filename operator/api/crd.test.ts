import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { apiSecurityPolicyCrd, crdFile, renderCrdYaml } from "./crd.js";

interface SchemaNode {
  type?: string;
  description?: string;
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  additionalProperties?: SchemaNode | boolean;
}

function openApiSchema(): SchemaNode {
  const crd = apiSecurityPolicyCrd() as { spec: { versions: { schema: { openAPIV3Schema: SchemaNode } }[] } };
  const [version] = crd.spec.versions;
  if (!version) throw new Error("the CRD has no version");
  return version.schema.openAPIV3Schema;
}

/** Every node below `node` (itself included) with its path, e.g. spec.rules[].match.methods[]. */
function nodes(node: SchemaNode, path: string): { path: string; node: SchemaNode }[] {
  return [
    { path, node },
    ...Object.entries(node.properties ?? {}).flatMap(([name, child]) => nodes(child, `${path}.${name}`)),
    ...(node.items ? nodes(node.items, `${path}[]`) : []),
    ...(typeof node.additionalProperties === "object" ? nodes(node.additionalProperties, `${path}{}`) : []),
  ];
}

describe("the generated CRD", () => {
  it("on disk is up to date with the zod schema", async () => {
    const onDisk = await readFile(new URL(`../../${crdFile}`, import.meta.url), "utf8");
    expect(onDisk, `${crdFile} is out of date: run \`npm run generate\` and commit the result`).toBe(renderCrdYaml());
  });

  it("documents every field under spec and status, so kubectl explain does", () => {
    const root = openApiSchema();
    const spec = root.properties?.spec;
    const status = root.properties?.status;
    if (!spec || !status) throw new Error("the schema has no spec or status");
    const all = [...nodes(spec, "spec"), ...nodes(status, "status")];
    // A sanity check that the walk reaches deep fields, so an empty walk cannot pass.
    expect(all.map((n) => n.path)).toContain("spec.rules[].rateLimits[].counts.responseCodes[]");
    expect(all.length).toBeGreaterThan(100);
    const undocumented = all.filter(({ node }) => typeof node.description !== "string" || node.description.trim().length < 3).map((n) => n.path);
    expect(undocumented, "fields without a description").toEqual([]);
  });

  it("documents the object itself, apiVersion and kind", () => {
    const root = openApiSchema();
    expect(root.description).toMatch(/APISecurityPolicy/);
    expect(root.properties?.apiVersion?.description).toMatch(/bulwark\.dev\/v1alpha1/);
    expect(root.properties?.kind?.description).toMatch(/APISecurityPolicy/);
  });
});
