import { existsSync, readdirSync, readFileSync, rmdirSync, statSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

const cgroupMount = "/sys/fs/cgroup";

/** Every directory where the cgroup `name` lives: one per v1 hierarchy, or one on a v2 host. */
function cgroupDirs(name: string, version: 1 | 2): string[] {
  if (version === 2) return [join(cgroupMount, name)];
  return readdirSync(cgroupMount)
    .filter((h) => h !== "unified" && statSync(join(cgroupMount, h)).isDirectory() && existsSync(join(cgroupMount, h, "cgroup.procs")))
    .map((h) => join(cgroupMount, h, name));
}

/** Creates the node's cgroup root in every hierarchy (the kubelet refuses a root that does not exist). */
export async function createCgroupRoot(name: string, version: 1 | 2): Promise<void> {
  for (const dir of cgroupDirs(name, version)) {
    await mkdir(dir, { recursive: true });
    if (dir.includes("/cpuset/")) {
      // A new v1 cpuset starts empty; give it its parent's CPUs and memory nodes.
      for (const file of ["cpuset.cpus", "cpuset.mems"]) {
        await writeFile(join(dir, file), readFileSync(join(cgroupMount, "cpuset", file), "utf8").trim());
      }
    }
  }
}

function removeTree(dir: string): void {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) removeTree(join(dir, entry.name));
  }
  try {
    rmdirSync(dir);
  } catch {
    // A cgroup that still holds a process stays; `env down` kills the node's processes first.
  }
}

/** Removes the node's cgroup root and every Pod cgroup under it, deepest first. */
export function removeCgroupRoot(name: string, version: 1 | 2): void {
  for (const dir of cgroupDirs(name, version)) removeTree(dir);
}
