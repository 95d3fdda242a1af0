/** Regenerates the files derived from the TypeScript sources (the CRD). */
import { writeFile } from "node:fs/promises";
import { crdFile, renderCrdYaml } from "../operator/api/crd.js";

await writeFile(crdFile, renderCrdYaml());
process.stdout.write(`wrote ${crdFile}\n`);
