import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { apiInventoryCrd, inventoryCrdFile, renderInventoryCrdYaml } from "./inventory-crd.js";
import { inventoryJsonSchemaFile, renderInventoryJsonSchema } from "./inventory-json-schema.js";
import { schemaNodes, type SchemaNode } from "../testdata/schema-nodes.js";

const crd = apiInventoryCrd() as { spec: { versions: { schema: { openAPIV3Schema: SchemaNode }; additionalPrinterColumns: { name: string }[] }[] } };

describe("the generated APIInventory CRD", () => {
  it("on disk is up to date with the zod schema", async () => {
    const onDisk = await readFile(new URL(`../../${inventoryCrdFile}`, import.meta.url), "utf8");
    expect(onDisk, `${inventoryCrdFile} is out of date: run \`npm run generate\` and commit the result`).toBe(renderInventoryCrdYaml());
  });

  it("documents every field, so kubectl explain does, and has no spec", () => {
    const root = crd.spec.versions[0]!.schema.openAPIV3Schema;
    expect(root.properties?.spec).toBeUndefined();
    const all = schemaNodes(root.properties!.status!, "status");
    expect(all.map((n) => n.path)).toContain("status.workloads[].endpoints[].appVersions[]");
    const undocumented = all.filter(({ node, path }) => !path.endsWith("[]") && !path.endsWith("{}") && (node.description ?? "").trim().length < 3).map((n) => n.path);
    expect(undocumented).toEqual([]);
  });

  it("shows the class counts in kubectl get", () => {
    expect(crd.spec.versions[0]!.additionalPrinterColumns.map((c) => c.name)).toEqual(["Documented", "Shadow", "Zombie", "Unused", "Requests", "Updated", "Age"]);
  });
});

describe("the generated APIInventory JSON Schema", () => {
  it("on disk is up to date with the zod schema", async () => {
    const onDisk = await readFile(new URL(`../../${inventoryJsonSchemaFile}`, import.meta.url), "utf8");
    expect(onDisk, `${inventoryJsonSchemaFile} is out of date: run \`npm run generate\` and commit the result`).toBe(renderInventoryJsonSchema());
  });
});
