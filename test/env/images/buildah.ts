/**
 * buildah over a containers-storage of the project's own, inside the provisioning cache, so that
 * building images here touches nothing else on the machine. Builds use chroot isolation (no
 * runtime, no network namespace needed) and never pull: every base image is constructed locally.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { cacheRoot } from "../cache.js";
import { exec, type ExecResult } from "../exec.js";
import { PrerequisiteError } from "../errors.js";

export interface ImageStore {
  root: string;
  runroot: string;
  driver: "overlay" | "vfs";
}

const buildahFix = "install Debian's buildah (apt-get install buildah), or run `npm run env -- provision` as root";

/** overlay where the cache's filesystem can hold overlay upper directories, vfs on an overlayfs. */
function storageDriver(dir: string): "overlay" | "vfs" {
  if (process.env.BULWARK_BUILDAH_DRIVER === "vfs" || process.env.BULWARK_BUILDAH_DRIVER === "overlay") return process.env.BULWARK_BUILDAH_DRIVER;
  try {
    const type = execFileSync("stat", ["-f", "-c", "%T", dir], { encoding: "utf8" }).trim();
    return type === "overlayfs" ? "vfs" : "overlay";
  } catch {
    return "vfs";
  }
}

export function imageStore(): ImageStore {
  const base = join(cacheRoot(), "containers");
  const root = join(base, "storage");
  mkdirSync(root, { recursive: true });
  return { root, runroot: join(base, "run"), driver: storageDriver(root) };
}

export function storageFlags(store: ImageStore): string[] {
  return ["--root", store.root, "--runroot", store.runroot, "--storage-driver", store.driver];
}

/** Runs `buildah <args>` against the project's store. */
export function buildah(store: ImageStore, args: readonly string[], options: { cwd?: string } = {}): Promise<ExecResult> {
  return exec("buildah", [...storageFlags(store), ...args], {
    ...(options.cwd ? { cwd: options.cwd } : {}),
    env: { ...process.env, BUILDAH_ISOLATION: "chroot", STORAGE_DRIVER: store.driver },
    missingFix: buildahFix,
  });
}

/** Image id of `name` in the store, or undefined when the store has no such image. */
export async function imageId(store: ImageStore, name: string): Promise<string | undefined> {
  try {
    const { stdout } = await buildah(store, ["inspect", "--type", "image", "--format", "{{.FromImageID}}", name]);
    return stdout.trim() || undefined;
  } catch (error) {
    if (error instanceof PrerequisiteError) throw error;
    return undefined;
  }
}

/** A label of the image `name`, or undefined. */
export async function imageLabel(store: ImageStore, name: string, label: string): Promise<string | undefined> {
  try {
    const { stdout } = await buildah(store, ["inspect", "--type", "image", "--format", `{{index .OCIv1.Config.Labels "${label}"}}`, name]);
    const value = stdout.trim();
    return value === "" || value === "<no value>" ? undefined : value;
  } catch (error) {
    if (error instanceof PrerequisiteError) throw error;
    return undefined;
  }
}
