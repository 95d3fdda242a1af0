/**
 * The files a `docker build .` / `buildah bud .` sends as its context (the directory minus what
 * .dockerignore excludes), and a hash of them: the bulwark image is rebuilt exactly when one of
 * them changes.
 */
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

interface IgnoreRule {
  pattern: RegExp;
  exclude: boolean;
}

function patternRegExp(pattern: string): RegExp {
  let source = "";
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern.charAt(i);
    if (char === "*" && pattern[i + 1] === "*") {
      // `**/` matches any number of directories, `**` at the end anything.
      if (pattern[i + 2] === "/") {
        source += "(?:.*/)?";
        i += 2;
      } else {
        source += ".*";
        i += 1;
      }
    } else if (char === "*") source += "[^/]*";
    else if (char === "?") source += "[^/]";
    else source += char.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${source}$`);
}

/** Parses .dockerignore: one pattern a line, `#` comments, `!` re-includes; the last matching line wins. */
export function parseDockerignore(text: string): IgnoreRule[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => {
      const exclude = !line.startsWith("!");
      const pattern = (exclude ? line : line.slice(1)).trim().replace(/^\/+/, "").replace(/\/+$/, "");
      return { pattern: patternRegExp(pattern), exclude };
    });
}

/** Whether `path` (relative, `/`-separated) is left out: by a pattern matching it or one of its parent directories. */
export function isIgnored(rules: readonly IgnoreRule[], path: string): boolean {
  const parts = path.split("/");
  const candidates = parts.map((_part, i) => parts.slice(0, i + 1).join("/"));
  let ignored = false;
  for (const rule of rules) {
    if (candidates.some((candidate) => rule.pattern.test(candidate))) ignored = rule.exclude;
  }
  return ignored;
}

/** Relative paths of the files in the build context of `dir`, sorted. */
export async function buildContextFiles(dir: string): Promise<string[]> {
  const ignoreText = await readFile(join(dir, ".dockerignore"), "utf8").catch(() => "");
  const rules = parseDockerignore(ignoreText);
  const reincludes = rules.some((rule) => !rule.exclude);
  const files: string[] = [];
  const walk = async (relative: string): Promise<void> => {
    for (const entry of await readdir(join(dir, relative), { withFileTypes: true })) {
      const path = relative === "" ? entry.name : `${relative}/${entry.name}`;
      const ignored = isIgnored(rules, path);
      if (entry.isDirectory()) {
        // A `!pattern` may bring back something below an ignored directory, so only then look inside.
        if (!ignored || reincludes) await walk(path);
      } else if (!ignored) {
        files.push(path);
      }
    }
  };
  await walk("");
  return files.sort();
}

/** sha256 over every context file's path, mode-independent content. */
export async function buildContextHash(dir: string): Promise<string> {
  const hash = createHash("sha256");
  for (const file of await buildContextFiles(dir)) {
    hash.update(`${file}\0`);
    hash.update(await readFile(join(dir, file)).catch(() => Buffer.from("")));
    hash.update("\0");
  }
  return hash.digest("hex");
}
