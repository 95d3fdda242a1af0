/**
 * The images as a container runtime runs them: each OCI archive provisioning wrote is unpacked
 * with umoci and started with runc, with the image's own user, entrypoint and environment, a
 * read-only root filesystem and no capabilities (the chart's security context).
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exec } from "../../env/exec.js";
import { freePort, sleep } from "../../env/processes.js";
import { dockerfileArg } from "../../env/images/dockerfile.js";
import { provisionImages, type ProvisionedImages } from "../../env/provision/images.js";
import { consoleSteps } from "../../env/steps.js";

const repoRoot = join(import.meta.dirname, "..", "..", "..");
const runc = "/usr/sbin/runc";
const missing = process.getuid?.() !== 0 ? "root" : [runc, "/usr/bin/umoci"].find((tool) => !existsSync(tool));
if (missing) process.stderr.write(`image tests skipped: running a container needs ${missing} (apt-get install runc umoci, as root)\n`);

interface RuntimeConfig {
  process: { user: { uid: number; gid: number }; args: string[]; env: string[]; cwd: string; terminal?: boolean; capabilities?: unknown; noNewPrivileges?: boolean };
  root: { path: string; readonly?: boolean };
  mounts: { destination: string; type: string; source: string; options?: string[] }[];
  linux: { namespaces: { type: string }[] };
}

let work = "";
let images: ProvisionedImages;
const containers: string[] = [];

const bundles = new Map<string, Promise<{ dir: string; config: RuntimeConfig }>>();

/** The image archive unpacked into a runc bundle (once), with the runtime config umoci derived from the image. */
function bundleOf(archive: string, reference: string, name: string): Promise<{ dir: string; config: RuntimeConfig }> {
  const known = bundles.get(archive);
  if (known) return known;
  const bundle = unpack(archive, reference, name);
  bundles.set(archive, bundle);
  return bundle;
}

async function unpack(archive: string, reference: string, name: string): Promise<{ dir: string; config: RuntimeConfig }> {
  const layout = join(work, `${name}-layout`);
  const dir = join(work, `${name}-bundle`);
  await mkdir(layout, { recursive: true });
  await exec("tar", ["-xf", archive, "-C", layout], { missingFix: "install tar" });
  await exec("umoci", ["unpack", "--image", `${layout}:${reference}`, dir], { missingFix: "apt-get install umoci" });
  return { dir, config: JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as RuntimeConfig };
}

/** Starts the bundle with `args` as the chart runs it: read-only root, no capabilities, no privilege gain. */
async function runContainer(
  bundle: { dir: string; config: RuntimeConfig },
  args: string[],
  options: { hostNetwork?: boolean; mounts?: RuntimeConfig["mounts"] } = {},
): Promise<{ id: string; done: Promise<{ code: number | null; stdout: string; stderr: string }> }> {
  const config: RuntimeConfig = structuredClone(bundle.config);
  config.root.readonly = true;
  config.process.terminal = false;
  config.process.args = args;
  config.process.noNewPrivileges = true;
  config.process.capabilities = { bounding: [], effective: [], inheritable: [], permitted: [], ambient: [] };
  config.mounts.push(...(options.mounts ?? []));
  if (options.hostNetwork) config.linux.namespaces = config.linux.namespaces.filter((ns) => ns.type !== "network");
  await writeFile(join(bundle.dir, "config.json"), JSON.stringify(config));
  const id = `bulwark-image-test-${process.pid}-${containers.length}`;
  containers.push(id);
  const child = spawn(runc, ["run", "--bundle", bundle.dir, id], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
  return { id, done };
}

beforeAll(async () => {
  if (missing) return;
  work = await mkdtemp(join(tmpdir(), "bulwark-image-"));
  // Cached after `npm run env -- provision`; built here otherwise (minutes, with progress lines).
  images = await provisionImages(consoleSteps("images"));
}, 1_800_000);

afterAll(async () => {
  for (const id of containers) await exec(runc, ["delete", "--force", id], { missingFix: "" }).catch(() => undefined);
  if (work) await rm(work, { recursive: true, force: true });
});

describe.skipIf(Boolean(missing))("the bulwark image", () => {
  it("declares the bulwark entrypoint, uid 65532 and the production environment", async () => {
    const { config } = await bundleOf(images.bulwark.archive, images.bulwark.reference, "bulwark");
    expect(config.process.user).toMatchObject({ uid: 65532, gid: 65532 });
    expect(config.process.args).toEqual(["bulwark", "--help"]);
    expect(config.process.env).toContain("NODE_ENV=production");
    expect(config.process.cwd).toBe("/app");
  });

  it("bulwark --version runs on the Dockerfile's Node.js, as uid 65532, on a read-only root filesystem", async () => {
    const bundle = await bundleOf(images.bulwark.archive, images.bulwark.reference, "bulwark");
    const { version } = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { version: string };
    const nodeVersion = dockerfileArg(readFileSync(join(repoRoot, "Dockerfile"), "utf8"), "NODE_VERSION");
    const result = await (await runContainer(bundle, ["bulwark", "--version"])).done;
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^bulwark ${version.replace(/\./g, "\\.")}\ncommit  [0-9a-f]{40}(-dirty)?\nbuilt   \\S+Z\nnode    v${nodeVersion}\n$`));
    const probe = await (
      await runContainer(bundle, [
        "node",
        "-e",
        "let w='written';try{require('fs').writeFileSync('/app/probe','x')}catch(e){w=e.code}process.stdout.write(process.getuid()+' '+w+' '+require('fs').existsSync('/usr/local/bin/npm'))",
      ])
    ).done;
    expect(probe).toEqual({ code: 0, stdout: "65532 EROFS false", stderr: "" });
  });

  it("bulwark ratelimit starts in it and becomes ready", async () => {
    const bundle = await bundleOf(images.bulwark.archive, images.bulwark.reference, "bulwark");
    const [grpc, http] = [await freePort(), await freePort()];
    const policy = join(repoRoot, "examples", "shop-api.yaml");
    const container = await runContainer(
      bundle,
      ["bulwark", "ratelimit", "-f", "/policies/shop-api.yaml", "--grpc-address", `127.0.0.1:${grpc}`, "--http-address", `127.0.0.1:${http}`],
      {
        hostNetwork: true,
        mounts: [{ destination: "/policies/shop-api.yaml", type: "bind", source: policy, options: ["bind", "ro"] }],
      },
    );
    let exited: { code: number | null; stderr: string } | undefined;
    void container.done.then((result) => (exited = result));
    try {
      let ready = false;
      for (let i = 0; i < 300 && !ready && !exited; i++) {
        ready = await fetch(`http://127.0.0.1:${http}/readyz`).then(
          (response) => response.ok,
          () => false,
        );
        if (!ready) await sleep(200);
      }
      expect(exited).toBeUndefined();
      expect(ready).toBe(true);
    } finally {
      await exec(runc, ["kill", container.id, "KILL"], { missingFix: "" }).catch(() => undefined);
      await container.done;
    }
  });
});

describe.skipIf(Boolean(missing))("the Envoy sidecar image", () => {
  it("runs envoy from PATH as the injector does, as uid 101 on a read-only root filesystem", async () => {
    const bundle = await bundleOf(images.envoy.archive, images.envoy.reference, "envoy");
    expect(bundle.config.process.user).toMatchObject({ uid: 101 });
    const result = await (await runContainer(bundle, ["envoy", "--version"])).done;
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`/${images.envoy.name.split(":v")[1] ?? "?"}/`);
  });
});
