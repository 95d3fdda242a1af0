import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { cacheRoot } from "../env/cache.js";
import type { StepReporter } from "../env/steps.js";

/** The chart's images as OCI archives (TEMPORARY: until the image build lands, the newest cached archives). */
export interface ChartImage {
  name: string;
  archive: string;
}

function newest(prefix: string): string {
  const dirs = readdirSync(cacheRoot())
    .filter((d) => d.startsWith(prefix) && !d.includes(".partial"))
    .map((d) => join(cacheRoot(), d, "image.oci.tar"))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  if (!dirs[0]) throw new Error(`no ${prefix} archive in the cache`);
  return dirs[0];
}

export function chartImageArchives(_steps: StepReporter): Promise<{ bulwark: ChartImage; envoy: ChartImage }> {
  return Promise.resolve({
    bulwark: { name: "bulwark:0.1.0", archive: newest("image-bulwark-0.1.0-") },
    envoy: { name: "envoyproxy/envoy:v1.40.0", archive: newest("image-envoy-1.40.0-") },
  });
}
