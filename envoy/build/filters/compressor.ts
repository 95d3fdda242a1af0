import type { JsonObject } from "../../json.js";
import type { CompressionIR } from "../../../contract/ir.js";
import { TypeUrl } from "../../type-urls.js";
import { httpFilter, type HttpFilterFeature } from "./feature.js";

type Algorithm = CompressionIR["algorithms"][number];

const LIBRARIES: Record<Algorithm, { name: string; type: string }> = {
  brotli: { name: "brotli", type: TypeUrl.brotli },
  gzip: { name: "gzip", type: TypeUrl.gzip },
};

export function compressorFilterName(algorithm: Algorithm): string {
  return `envoy.filters.http.compressor.${algorithm}`;
}

/** One compressor per algorithm; when a client accepts several equally, the preferred one wins. */
export function buildCompressorFilters(compression: CompressionIR): JsonObject[] {
  return compression.algorithms.map((algorithm, index) =>
    httpFilter(compressorFilterName(algorithm), {
      "@type": TypeUrl.compressor,
      response_direction_config: { common_config: { min_content_length: compression.minBytes } },
      compressor_library: { name: LIBRARIES[algorithm].name, typed_config: { "@type": LIBRARIES[algorithm].type } },
      ...(index === 0 ? { choose_first: true } : {}),
    }),
  );
}

export const compressor: HttpFilterFeature = {
  httpFilters: (ctx) => (ctx.workload.compression ? buildCompressorFilters(ctx.workload.compression) : []),
};
