import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { cachedDirectory } from "./cache.js";
import { exec } from "./exec.js";
import { PrerequisiteError } from "./errors.js";

describe("cachedDirectory", () => {
  const saved = process.env.BULWARK_CACHE_DIR;
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), "bulwark-cache-"));
    process.env.BULWARK_CACHE_DIR = root;
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.BULWARK_CACHE_DIR;
    else process.env.BULWARK_CACHE_DIR = saved;
  });

  it("fills a key once and reuses it afterwards", async () => {
    let fills = 0;
    const fill = async (dir: string): Promise<void> => {
      fills += 1;
      await writeFile(join(dir, "bin"), "v1");
    };
    const first = await cachedDirectory("tool-1.0", fill);
    const second = await cachedDirectory("tool-1.0", fill);
    expect([first.built, second.built, fills]).toEqual([true, false, 1]);
    expect(readFileSync(join(second.dir, "bin"), "utf8")).toBe("v1");
  });

  it("leaves nothing behind when a fill fails", async () => {
    await expect(
      cachedDirectory("broken-1.0", async (dir) => {
        await writeFile(join(dir, "half"), "x");
        throw new Error("download failed");
      }),
    ).rejects.toThrow("download failed");
    expect(existsSync(join(root, "broken-1.0"))).toBe(false);
    expect(readdirSync(root)).toEqual([]);
  });
});

describe("exec", () => {
  it("turns a missing executable into a one-line prerequisite error", async () => {
    const error = await exec("bulwark-no-such-tool", [], { missingFix: "install it" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PrerequisiteError);
    expect((error as PrerequisiteError).oneLine()).toBe("bulwark-no-such-tool is not installed or not on PATH — install it");
  });

  it("reports the tail of a failing command's output", async () => {
    await expect(exec("sh", ["-c", "echo boom >&2; exit 3"], { missingFix: "" })).rejects.toThrow(/exited with 3:\nboom/);
  });
});
