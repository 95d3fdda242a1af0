/**
 * The sidecar image the chart names (`proxy.image` in values.yaml, the official
 * `envoyproxy/envoy:v<version>`), made of the official Envoy binary the environment provisions on
 * the Debian slim base, with `envoy` on PATH as the injector runs it.
 */
import { shortHash } from "../cache.js";
import { versions } from "../versions.js";
import { buildah, type ImageStore } from "./buildah.js";
import { CACHE_KEY_LABEL, cachedImage, type ImageArchive } from "./cached-image.js";

/** The Debian release under the sidecar image. */
export const ENVOY_IMAGE_RELEASE = "bookworm";

/** The sidecar image name in values.yaml, checked against the Envoy version the environment provisions. */
export function sidecarImageName(values: { proxy?: { image?: { repository?: unknown; tag?: unknown } } }, envoyVersion: string = versions.envoy): string {
  const image = values.proxy?.image;
  if (typeof image?.repository !== "string" || typeof image.tag !== "string") throw new Error("values.yaml: proxy.image.repository and proxy.image.tag must be strings");
  if (image.tag !== `v${envoyVersion}`) {
    throw new Error(
      `values.yaml names the sidecar image ${image.repository}:${image.tag} but the environment provisions Envoy ${envoyVersion}; keep proxy.image.tag at v${envoyVersion} (test/env/versions.ts)`,
    );
  }
  return `${image.repository}:${image.tag}`;
}

export function provisionEnvoyImage(options: { store: ImageStore; name: string; envoyBinary: string; debian: ImageArchive }): Promise<ImageArchive> {
  const { store, name, envoyBinary, debian } = options;
  const key = `image-envoy-${versions.envoy}-${shortHash("1", name, debian.archive)}`;
  return cachedImage({
    store,
    key,
    name,
    build: async (buildTag) => {
      const container = (await buildah(store, ["from", "--pull=never", debian.reference])).stdout.trim();
      try {
        await buildah(store, ["copy", "--quiet", "--chmod", "0755", container, envoyBinary, "/usr/local/bin/envoy"]);
        await buildah(store, ["config", "--entrypoint", '["envoy"]', "--cmd", '["--help"]', "--user", "101:101", "--label", `${CACHE_KEY_LABEL}=${key}`, container]);
        await buildah(store, ["commit", "--quiet", "--rm", container, buildTag]);
      } catch (error) {
        await buildah(store, ["rm", container]).catch(() => undefined);
        throw error;
      }
    },
  });
}
