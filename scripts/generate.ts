/** Regenerates the files derived from the TypeScript sources: the CRDs, and the JSON Schema for kubeconform. */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { crdFile, renderCrdYaml } from "../operator/api/crd.js";
import { jsonSchemaFile, renderJsonSchema } from "../operator/api/json-schema.js";
import { inventoryCrdFile, renderInventoryCrdYaml } from "../operator/api/inventory-crd.js";
import { inventoryJsonSchemaFile, renderInventoryJsonSchema } from "../operator/api/inventory-json-schema.js";

for (const [file, text] of [
  [crdFile, renderCrdYaml()],
  [jsonSchemaFile, renderJsonSchema()],
  [inventoryCrdFile, renderInventoryCrdYaml()],
  [inventoryJsonSchemaFile, renderInventoryJsonSchema()],
] as const) {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, text);
  process.stdout.write(`wrote ${file}\n`);
}
