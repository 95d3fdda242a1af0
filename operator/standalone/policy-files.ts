import { watch, type FSWatcher } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { basename, dirname, extname, join, resolve } from "node:path";
import { errorMessage } from "../../common/errors.js";
import type { TranslationInput } from "../resolve/objects.js";
import { readObjects, type ReadProblem } from "../translate/read-objects.js";

const EXTENSIONS = [".yaml", ".yml", ".json"];

/** A path's object files: the file itself, or a directory's *.yaml, *.yml and *.json (not recursive), sorted. */
export async function objectFiles(path: string): Promise<string[]> {
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new PolicyFilesError(`${path} does not exist`);
  if (!info.isDirectory()) return [path];
  return (await readdir(path))
    .filter((e) => EXTENSIONS.includes(extname(e)))
    .sort()
    .map((e) => join(path, e));
}

export class PolicyFilesError extends Error {}

export interface ReadFiles {
  input: Omit<TranslationInput, "now">;
  problems: ReadProblem[];
  /** The files read, in order. */
  files: string[];
}

/** Reads the objects of every file of `paths` (see objectFiles). */
export async function readObjectFiles(paths: readonly string[]): Promise<ReadFiles> {
  const files = (await Promise.all(paths.map(objectFiles))).flat();
  const texts = await Promise.all(files.map(async (path) => ({ path, text: await readFile(path, "utf8") })));
  return { ...readObjects(texts), files };
}

/**
 * Calls `onChange` (debounced) when a file of `paths` may have changed: each directory is
 * watched, and a file through its directory, since editors save by writing a new file and
 * renaming it over the old one (a watch on the file itself would follow the old one).
 * Returns a stop function.
 */
export function watchObjectFiles(paths: readonly string[], onChange: () => void, options: { debounceMs: number; onError: (message: string) => void }): () => void {
  let timer: NodeJS.Timeout | undefined;
  const fire = (): void => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(onChange, options.debounceMs);
  };
  const watchers: FSWatcher[] = [];
  for (const path of paths) {
    const absolute = resolve(path);
    void stat(absolute)
      .then((info) => {
        const directory = info.isDirectory() ? absolute : dirname(absolute);
        const only = info.isDirectory() ? undefined : basename(absolute);
        const watcher = watch(directory, (_event, name) => {
          if (only === undefined ? name === null || EXTENSIONS.includes(extname(name)) : name === null || name === only) fire();
        });
        watcher.on("error", (error) => options.onError(`cannot watch ${directory}: ${errorMessage(error)}`));
        watchers.push(watcher);
      })
      .catch((error: unknown) => options.onError(`cannot watch ${path}: ${errorMessage(error)}`));
  }
  return () => {
    if (timer) clearTimeout(timer);
    for (const w of watchers) w.close();
  };
}
