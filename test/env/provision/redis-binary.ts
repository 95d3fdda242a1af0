import { exec, isInstalled } from "../exec.js";
import { PrerequisiteError } from "../errors.js";

const redisServer = "/usr/bin/redis-server";

/** Ensures Debian's redis-server is installed, installing it with apt-get when running as root. */
export async function provisionRedis(): Promise<{ redisServer: string; built: boolean }> {
  if (await isInstalled(redisServer)) return { redisServer, built: false };
  if (process.getuid?.() !== 0) {
    throw new PrerequisiteError("redis-server is not installed", "run `sudo apt-get install redis-server`");
  }
  const aptFix = "this needs Debian's apt-get; install redis-server by hand";
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  try {
    await exec("apt-get", ["install", "-y", "-qq", "--no-install-recommends", "redis-server"], { missingFix: aptFix, env });
  } catch (error) {
    if (error instanceof PrerequisiteError) throw error;
    await exec("apt-get", ["update", "-qq"], { missingFix: aptFix, env });
    await exec("apt-get", ["install", "-y", "-qq", "--no-install-recommends", "redis-server"], { missingFix: aptFix, env });
  }
  if (!(await isInstalled(redisServer))) {
    throw new PrerequisiteError("apt-get ran but redis-server is still missing", "install redis-server by hand");
  }
  return { redisServer, built: true };
}
