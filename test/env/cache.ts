import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";

/** Root of the version-keyed cache, outside any clone: $BULWARK_CACHE_DIR or $XDG_CACHE_HOME/bulwark. */
export function cacheRoot(): string {
  if (process.env.BULWARK_CACHE_DIR) return process.env.BULWARK_CACHE_DIR;
  const xdg = process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache");
  return join(xdg, "bulwark");
}

export function shortHash(...parts: readonly (string | Buffer)[]): string {
  const hash = createHash("sha256");
  for (const part of parts) hash.update(part);
  return hash.digest("hex").slice(0, 12);
}

/**
 * Returns `<cacheRoot>/<key>`, filling it with `fill(tmpDir)` first if absent.
 * The directory appears atomically (rename), so an interrupted fill leaves nothing half-built.
 */
export async function cachedDirectory(key: string, fill: (dir: string) => Promise<void>): Promise<{ dir: string; built: boolean }> {
  const dir = join(cacheRoot(), key);
  if (existsSync(dir)) return { dir, built: false };
  await mkdir(cacheRoot(), { recursive: true });
  const tmp = `${dir}.partial-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  try {
    await fill(tmp);
    if (existsSync(dir)) {
      // Another process finished the same fill first; keep theirs.
      await rm(tmp, { recursive: true, force: true });
    } else {
      await rename(tmp, dir);
    }
  } catch (error) {
    await rm(tmp, { recursive: true, force: true });
    throw error;
  }
  return { dir, built: true };
}
