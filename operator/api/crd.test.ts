import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { apiSecurityPolicyCrd, crdFile, renderCrdYaml } from "./crd.js";
import { schemaNodes, type SchemaNode } from "../testdata/schema-nodes.js";

function openApiSchema(): SchemaNode {
  const crd = apiSecurityPolicyCrd() as { spec: { versions: { schema: { openAPIV3Schema: SchemaNode } }[] } };
  const [version] = crd.spec.versions;
  if (!version) throw new Error("the CRD has no version");
  return version.schema.openAPIV3Schema;
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
    const all = [...schemaNodes(spec, "spec"), ...schemaNodes(status, "status")];
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
