import { exec, isInstalled } from "../exec.js";
import { PrerequisiteError } from "../errors.js";

const promtool = "/usr/bin/promtool";
const prometheus = "/usr/bin/prometheus";

/**
 * Ensures Debian's prometheus package (promtool and prometheus: the chart's alerts and dashboard
 * are checked with both) is installed, installing it with apt-get when running as root.
 */
export async function provisionPrometheus(): Promise<{ promtool: string; prometheus: string; built: boolean }> {
  if ((await isInstalled(promtool)) && (await isInstalled(prometheus))) return { promtool, prometheus, built: false };
  if (process.getuid?.() !== 0) throw new PrerequisiteError("promtool and prometheus are not installed", "run `sudo apt-get install prometheus`");
  const aptFix = "this needs Debian's apt-get; install the prometheus package by hand";
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const install = (): Promise<unknown> => exec("apt-get", ["install", "-y", "-qq", "--no-install-recommends", "prometheus"], { missingFix: aptFix, env });
  try {
    await install();
  } catch (error) {
    if (error instanceof PrerequisiteError) throw error;
    await exec("apt-get", ["update", "-qq"], { missingFix: aptFix, env });
    await install();
  }
  if (!(await isInstalled(promtool)) || !(await isInstalled(prometheus)))
    throw new PrerequisiteError("apt-get ran but promtool or prometheus is still missing", "install the prometheus package by hand");
  return { promtool, prometheus, built: true };
}
