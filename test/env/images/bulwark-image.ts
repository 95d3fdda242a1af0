/**
 * The bulwark image, built from the repository's own Dockerfile with `buildah bud` exactly as
 * users build it with `docker build` (the base images it names are already in the store), and
 * cached by the content of the build context.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { shortHash } from "../cache.js";
import { buildah, type ImageStore } from "./buildah.js";
import { buildContextHash } from "./build-context.js";
import { CACHE_KEY_LABEL, cachedImage, type ImageArchive } from "./cached-image.js";

/** The machine's CA bundle: npm inside the build trusts what npm on the machine trusts (a TLS-inspecting proxy's CA, where there is one). */
const HOST_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

function gitCommit(repoRoot: string): string {
  try {
    const run = (args: string[]): string => execFileSync("git", args, { cwd: repoRoot, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    const commit = run(["rev-parse", "HEAD"]);
    return run(["status", "--porcelain", "--untracked-files=no"]) === "" ? commit : `${commit}-dirty`;
  } catch {
    return "unknown";
  }
}

export interface BulwarkImageOptions {
  store: ImageStore;
  repoRoot: string;
  /** `bulwark:<appVersion>`, as the chart names it. */
  name: string;
  /** The base images the Dockerfile names (already in the store); part of the cache key. */
  bases: readonly ImageArchive[];
  /** Directory of buildah's output (it is long): bulwark-image-<cache key>.log. */
  logDir: string;
}

export async function provisionBulwarkImage(options: BulwarkImageOptions): Promise<ImageArchive> {
  const { store, repoRoot, name, bases, logDir } = options;
  const context = await buildContextHash(repoRoot);
  const key = `image-bulwark-${name.split(":")[1] ?? "latest"}-${shortHash("1", name, context, ...bases.map((base) => base.archive))}`;
  return cachedImage({
    store,
    key,
    name,
    build: async (buildTag) => {
      const logFile = join(logDir, `bulwark-image-${key}.log`);
      const args = [
        "bud",
        "--layers",
        "--pull=never",
        "--isolation",
        "chroot",
        "--network",
        "host",
        "--build-arg",
        `BULWARK_COMMIT=${gitCommit(repoRoot)}`,
        "--build-arg",
        `BULWARK_BUILD_DATE=${new Date().toISOString().replace(/\.[0-9]+Z$/, "Z")}`,
        "--label",
        `${CACHE_KEY_LABEL}=${key}`,
        "--tag",
        buildTag,
      ];
      if (existsSync(HOST_CA_BUNDLE)) {
        const npmrc = join(store.runroot, "build-npmrc");
        await writeFile(npmrc, `cafile=${HOST_CA_BUNDLE}\n`);
        args.push("--volume", `${HOST_CA_BUNDLE}:${HOST_CA_BUNDLE}:ro`, "--volume", `${npmrc}:/usr/local/etc/npmrc:ro`);
      }
      try {
        const { stdout, stderr } = await buildah(store, [...args, "--file", join(repoRoot, "Dockerfile"), repoRoot]);
        await writeFile(logFile, stdout + stderr);
      } catch (error) {
        await writeFile(logFile, error instanceof Error ? error.message : String(error));
        throw error;
      }
    },
  });
}
