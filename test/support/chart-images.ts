import { provisionImages, type ImageArchive } from "../env/provision/images.js";
import type { StepReporter } from "../env/steps.js";

/** The chart's images (bulwark from the Dockerfile, the Envoy sidecar) as OCI archives the node imports; built once, then cached. */
export async function chartImageArchives(steps: StepReporter): Promise<{ bulwark: ImageArchive; envoy: ImageArchive }> {
  const { bulwark, envoy } = await provisionImages(steps);
  return { bulwark, envoy };
}
