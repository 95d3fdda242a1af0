import { existsSync } from "node:fs";
import { join } from "node:path";
import { cachedDirectory } from "../cache.js";
import { buildah, imageLabel, type ImageStore } from "./buildah.js";
import { qualifiedReference } from "./names.js";

/** An image written as an OCI archive that `ctr -n k8s.io images import` accepts. */
export interface ImageArchive {
  /** The name Dockerfiles, the chart and Pods use (`bulwark:0.1.0`). */
  name: string;
  /** The same name fully qualified: what the archive's index records and containerd stores after import. */
  reference: string;
  /** The OCI archive. */
  archive: string;
  /** True when this call built it (false: it came from the cache). */
  built: boolean;
}

/** The label that ties an image in the store to the cache entry it was built for. */
export const CACHE_KEY_LABEL = "dev.bulwark.cache-key";

const ARCHIVE_FILE = "image.oci.tar";

export interface CachedImageOptions {
  store: ImageStore;
  /** Cache directory name: changes whenever anything that goes into the image changes. */
  key: string;
  name: string;
  /**
   * Builds the image into the store under `buildTag`, labelled with CACHE_KEY_LABEL=key. A tag of
   * its own, so that two builds at once (from two clones) never archive each other's image.
   */
  build: (buildTag: string) => Promise<void>;
}

/**
 * The image `name` as a cached OCI archive, and present in the store (base images must be, for
 * later FROM lines): built once per key; an archive from an earlier run is imported into a
 * store that lost it.
 */
export async function cachedImage(options: CachedImageOptions): Promise<ImageArchive> {
  const { store, key, name } = options;
  const reference = qualifiedReference(name);
  const { dir, built } = await cachedDirectory(key, async (out) => {
    const buildTag = `localhost/bulwark-provisioning:${key}`;
    await options.build(buildTag);
    try {
      await buildah(store, ["push", "--quiet", buildTag, `oci-archive:${join(out, ARCHIVE_FILE)}:${reference}`]);
      await buildah(store, ["tag", buildTag, reference]);
    } finally {
      await buildah(store, ["rmi", buildTag]).catch(() => undefined);
    }
  });
  const archive = join(dir, ARCHIVE_FILE);
  if (!existsSync(archive)) throw new Error(`${dir} has no ${ARCHIVE_FILE}; delete the directory to rebuild ${name}`);
  if ((await imageLabel(store, reference, CACHE_KEY_LABEL)) !== key) {
    const { stdout } = await buildah(store, ["pull", "--quiet", `oci-archive:${archive}`]);
    const id = stdout.trim().split("\n").pop() ?? "";
    await buildah(store, ["tag", id, reference]);
  }
  return { name, reference, archive, built };
}
