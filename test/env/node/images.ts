import { createHash } from "node:crypto";
import { copyFile, mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { cachedDirectory } from "../cache.js";
import { exec } from "../exec.js";

/**
 * Images of the node's own parts, built here from Debian's binaries with umoci since no registry
 * is reachable: the Pod sandbox (pause), busybox (for `helm test` and probes), Redis and the
 * cluster DNS. Each is an OCI archive in the version-keyed cache, named `localhost/<name>:<tag>`
 * (the prefix of locally built images, so nothing suggests they came from a registry).
 */
export interface LocalImage {
  /** Full reference the kubelet asks for, e.g. localhost/busybox:1.35. */
  name: string;
  archive: string;
}

export interface NodeImages {
  pause: LocalImage;
  busybox: LocalImage;
  redis: LocalImage;
  coredns: LocalImage;
}

interface ImageSpec {
  repository: string;
  tag: string;
  /** Files copied into the root filesystem: [source on the host, path in the image]. */
  files: [string, string][];
  symlinks?: [string, string][];
  entrypoint: string[];
  user: string;
}

const umociFix = "install umoci (apt-get install umoci)";
const busyboxStatic = "/bin/busybox";

async function umoci(args: readonly string[]): Promise<void> {
  await exec("umoci", args, { missingFix: umociFix });
}

async function fileDigest(path: string): Promise<string> {
  return createHash("sha256")
    .update(await readFile(path))
    .digest("hex")
    .slice(0, 12);
}

/** The shared libraries a dynamically linked binary loads, with the loader, as ldd lists them. */
async function sharedLibraries(binary: string): Promise<string[]> {
  const { stdout } = await exec("ldd", [binary], { missingFix: "install libc-bin (ldd)" });
  return [...stdout.matchAll(/(\/\S+) \(0x/g)].map((m) => m[1] ?? "").filter((p) => p !== "");
}

async function buildArchive(spec: ImageSpec, out: string): Promise<void> {
  const layout = join(out, "layout");
  const bundle = join(out, "bundle");
  const ref = `${layout}:${spec.tag}`;
  await umoci(["init", "--layout", layout]);
  await umoci(["new", "--image", ref]);
  await umoci(["unpack", "--image", ref, bundle]);
  const rootfs = join(bundle, "rootfs");
  for (const dir of ["tmp", "data", "etc"]) await mkdir(join(rootfs, dir), { recursive: true, mode: 0o1777 });
  await writeFile(join(rootfs, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nnonroot:x:65532:65532:nonroot:/home/nonroot:/bin/sh\n");
  await writeFile(join(rootfs, "etc/group"), "root:x:0:\nnonroot:x:65532:\n");
  for (const [source, target] of spec.files) {
    await mkdir(dirname(join(rootfs, target)), { recursive: true });
    await copyFile(source, join(rootfs, target));
  }
  for (const [target, link] of spec.symlinks ?? []) {
    await mkdir(dirname(join(rootfs, link)), { recursive: true });
    await symlink(target, join(rootfs, link));
  }
  await umoci(["repack", "--image", ref, bundle]);
  await umoci(["config", "--image", ref, "--config.user", spec.user, ...spec.entrypoint.flatMap((e) => ["--config.entrypoint", e])]);
  await umoci(["gc", "--layout", layout]);
  // The archive names the image in full, as containerd stores it after `ctr images import`.
  const indexFile = join(layout, "index.json");
  const index = JSON.parse(await readFile(indexFile, "utf8")) as { manifests: { annotations?: Record<string, string> }[] };
  for (const manifest of index.manifests) manifest.annotations = { ...manifest.annotations, "org.opencontainers.image.ref.name": imageName(spec) };
  await writeFile(indexFile, JSON.stringify(index));
  await exec("tar", ["-C", layout, "-cf", join(out, "image.tar"), "."], { missingFix: "install tar" });
}

function imageName(spec: Pick<ImageSpec, "repository" | "tag">): string {
  return `localhost/${spec.repository}:${spec.tag}`;
}

async function cachedImage(spec: ImageSpec, inputs: string): Promise<LocalImage> {
  const key = `image-local-${spec.repository}-${spec.tag}-${createHash("sha256").update(JSON.stringify(spec)).update(inputs).digest("hex").slice(0, 12)}`;
  const { dir } = await cachedDirectory(key, async (out) => {
    await buildArchive(spec, out);
    await exec("rm", ["-rf", join(out, "layout"), join(out, "bundle")], { missingFix: "" });
  });
  return { name: imageName(spec), archive: join(dir, "image.tar") };
}

/** Builds (first use only) the node's images. */
export async function provisionNodeImages(options: { coredns: string; redisServer: string }): Promise<NodeImages> {
  const busyboxDigest = await fileDigest(busyboxStatic);
  const busyboxApplets = ["sh", "sleep", "wget", "nc", "cat", "ls", "env", "echo", "nslookup"];
  const busybox: ImageSpec = {
    repository: "busybox",
    tag: "1.35",
    files: [[busyboxStatic, "bin/busybox"]],
    symlinks: busyboxApplets.map((applet) => ["busybox", `bin/${applet}`] as [string, string]),
    entrypoint: ["/bin/sh"],
    user: "65532:65532",
  };
  // The sandbox holds the Pod's namespaces and sleeps; the runtime kills it when the Pod goes.
  const pause: ImageSpec = {
    repository: "pause",
    tag: "busybox",
    files: [[busyboxStatic, "bin/busybox"]],
    entrypoint: ["/bin/busybox", "sleep", "2147483647"],
    user: "65535:65535",
  };
  const redisLibs = await sharedLibraries(options.redisServer);
  const redis: ImageSpec = {
    repository: "redis",
    tag: "debian",
    files: [[options.redisServer, "usr/bin/redis-server"], ...redisLibs.map((lib) => [lib, lib.slice(1)] as [string, string])],
    // As the official image is built: protected mode off, so other Pods may connect (the chart sets no password).
    entrypoint: ["/usr/bin/redis-server", "--protected-mode", "no"],
    user: "65532:65532",
  };
  const coredns: ImageSpec = { repository: "coredns", tag: "bulwark", files: [[options.coredns, "coredns"]], entrypoint: ["/coredns"], user: "65532:65532" };
  const [pauseImage, busyboxImage, redisImage, corednsImage] = await Promise.all([
    cachedImage(pause, busyboxDigest),
    cachedImage(busybox, busyboxDigest),
    cachedImage(redis, `${await fileDigest(options.redisServer)}${(await Promise.all(redisLibs.map(fileDigest))).join("")}`),
    cachedImage(coredns, await fileDigest(options.coredns)),
  ]);
  return { pause: pauseImage, busybox: busyboxImage, redis: redisImage, coredns: corednsImage };
}
