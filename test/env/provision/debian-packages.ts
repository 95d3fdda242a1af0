import { exec, isInstalled } from "../exec.js";
import { PrerequisiteError } from "../errors.js";

export interface DebianTool {
  /** Executable that shows the package is installed. */
  command: string;
  /** Debian package that provides it. */
  pkg: string;
}

/** Installs the Debian packages of the missing tools with apt-get (as root), or says which to install. */
export async function ensureDebianTools(tools: readonly DebianTool[]): Promise<void> {
  const missing: DebianTool[] = [];
  for (const tool of tools) if (!(await isInstalled("sh", ["-c", `command -v ${tool.command}`]))) missing.push(tool);
  if (missing.length === 0) return;
  const packages = [...new Set(missing.map((tool) => tool.pkg))];
  if (process.getuid?.() !== 0) {
    throw new PrerequisiteError(`${missing.map((tool) => tool.command).join(", ")} not installed`, `run \`sudo apt-get install ${packages.join(" ")}\``);
  }
  const aptFix = `this needs Debian's apt-get; install ${packages.join(" ")} by hand`;
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const install = (): Promise<unknown> => exec("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...packages], { missingFix: aptFix, env });
  try {
    await install();
  } catch (error) {
    if (error instanceof PrerequisiteError) throw error;
    await exec("apt-get", ["update", "-qq"], { missingFix: aptFix, env });
    await install();
  }
}
