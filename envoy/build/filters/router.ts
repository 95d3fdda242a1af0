import { TypeUrl } from "../../type-urls.js";
import { httpFilter, type HttpFilterFeature } from "./feature.js";

export const ROUTER_FILTER = "envoy.filters.http.router";

export const router: HttpFilterFeature = {
  httpFilters: () => [httpFilter(ROUTER_FILTER, { "@type": TypeUrl.router })],
};
