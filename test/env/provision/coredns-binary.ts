import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { cachedDirectory, shortHash } from "../cache.js";
import { exec } from "../exec.js";
import { versions } from "../versions.js";

const moduleDir = join(dirname(fileURLToPath(import.meta.url)), "..", "coredns");
const goFix = "install Go 1.26 or newer and put `go` on PATH";

/**
 * Builds the node's cluster DNS, CoreDNS with only the plugins a local cluster needs (the module
 * in test/env/coredns pins the release), into a version-keyed cache directory.
 */
export async function provisionCoreDns(): Promise<{ coredns: string; built: boolean }> {
  const goMod = await readFile(join(moduleDir, "go.mod"));
  const goSum = await readFile(join(moduleDir, "go.sum"));
  const main = await readFile(join(moduleDir, "main.go"));
  const { dir, built } = await cachedDirectory(`coredns-${versions.coredns}-${shortHash(goMod, goSum, main)}`, async (out) => {
    await exec("go", ["build", "-trimpath", "-ldflags", "-s -w", "-o", join(out, "coredns"), "."], {
      cwd: moduleDir,
      env: { ...process.env, CGO_ENABLED: "0", GOFLAGS: "-mod=readonly" },
      missingFix: goFix,
    });
  });
  return { coredns: join(dir, "coredns"), built };
}
