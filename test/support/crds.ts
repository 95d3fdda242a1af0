import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import { kubectl } from "./kubectl.js";
import { waitFor } from "./poll.js";

/** The generated CustomResourceDefinitions of the repository. */
export const crdDirectory = fileURLToPath(new URL("../../crds/", import.meta.url));

interface CrdNames {
  name: string;
  plural: string;
  group: string;
}

async function crdsOnDisk(): Promise<CrdNames[]> {
  const files = (await readdir(crdDirectory)).filter((f) => /\.ya?ml$/.test(f)).sort();
  const crds: CrdNames[] = [];
  for (const file of files) {
    for (const doc of parseAllDocuments(await readFile(join(crdDirectory, file), "utf8"))) {
      const crd = doc.toJS() as { kind?: string; metadata?: { name?: string }; spec?: { group?: string; names?: { plural?: string } } } | null;
      if (crd?.kind !== "CustomResourceDefinition") continue;
      const { metadata, spec } = crd;
      if (!metadata?.name || !spec?.group || !spec.names?.plural) throw new Error(`${file}: a CustomResourceDefinition without name, group or plural`);
      crds.push({ name: metadata.name, plural: spec.names.plural, group: spec.group });
    }
  }
  if (crds.length === 0) throw new Error(`no CustomResourceDefinition in ${crdDirectory}; run \`npm run generate\``);
  return crds;
}

let installed: Promise<string[]> | undefined;

async function install(): Promise<string[]> {
  const crds = await crdsOnDisk();
  // Server-side apply: idempotent, no last-applied annotation (CRDs are large), and it takes
  // over fields another manager (an earlier run, another suite) applied.
  await kubectl(["apply", "--server-side", "--force-conflicts", "--field-manager=bulwark-tests", "-f", crdDirectory]);
  for (const crd of crds) {
    await kubectl(["wait", "--for=condition=Established", "--timeout=60s", `customresourcedefinition/${crd.name}`]);
    // Established can precede the moment the resource is served; wait until it lists.
    await waitFor(
      `${crd.plural}.${crd.group} to be served`,
      async () => {
        await kubectl(["get", `${crd.plural}.${crd.group}`, "--all-namespaces", "--output=name"]);
        return true;
      },
      60_000,
      100,
    );
  }
  return crds.map((crd) => crd.name);
}

/**
 * Installs (or updates) the CRDs of crds/ in the test cluster and waits until they are
 * Established and served. Idempotent: calls in one test file share one installation, and
 * installing again in another file only re-applies.
 * Returns the names of the CRDs.
 */
export function installCrds(): Promise<string[]> {
  installed ??= install().catch((error: unknown) => {
    installed = undefined;
    throw error;
  });
  return installed;
}
