/**
 * The base images a Dockerfile's FROM lines name, with its ARG defaults (or given build
 * arguments) substituted; stages built earlier in the same file and `scratch` are not bases.
 */
export function dockerfileBaseImages(text: string, buildArgs: Readonly<Record<string, string>> = {}): string[] {
  const lines = text
    .replace(/\\\r?\n/g, " ")
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
  const globalArgs = new Map<string, string>();
  const stages = new Set<string>();
  const bases: string[] = [];
  let seenFrom = false;
  for (const line of lines) {
    const [instruction = "", ...words] = line.split(/\s+/);
    const keyword = instruction.toUpperCase();
    if (keyword === "ARG" && !seenFrom) {
      for (const word of words) {
        const eq = word.indexOf("=");
        const key = eq === -1 ? word : word.slice(0, eq);
        const value = buildArgs[key] ?? (eq === -1 ? undefined : unquote(word.slice(eq + 1)));
        if (value !== undefined) globalArgs.set(key, value);
      }
    }
    if (keyword !== "FROM") continue;
    seenFrom = true;
    const args = words.filter((word) => !word.startsWith("--"));
    const image = substitute(args[0] ?? "", globalArgs, line);
    if (image === "") throw new Error(`Dockerfile: ${line}: FROM names no image`);
    if (args[1]?.toUpperCase() === "AS" && args[2]) stages.add(args[2].toLowerCase());
    if (image === "scratch" || stages.has(image.toLowerCase()) || bases.includes(image)) continue;
    bases.push(image);
  }
  // A stage named later than its use is still a stage, not a base.
  return bases.filter((image) => !stages.has(image.toLowerCase()));
}

function unquote(value: string): string {
  return /^(["']).*\1$/.test(value) ? value.slice(1, -1) : value;
}

function substitute(word: string, args: ReadonlyMap<string, string>, line: string): string {
  return word.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_match, braced: string | undefined, bare: string | undefined) => {
    const key = braced ?? bare ?? "";
    const value = args.get(key);
    if (value === undefined) throw new Error(`Dockerfile: ${line}: ARG ${key} has no default before the first FROM and was not given`);
    return value;
  });
}

/** The value of a global `ARG NAME=value` (before the first FROM), or undefined. */
export function dockerfileArg(text: string, name: string): string | undefined {
  const match = new RegExp(`^ARG\\s+${name}=(\\S+)\\s*$`, "m").exec(text);
  return match?.[1] ? unquote(match[1]) : undefined;
}
