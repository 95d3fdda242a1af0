import { buffer } from "./buffer.js";
import { clientCidrs } from "./client-cidrs.js";
import { compressor } from "./compressor.js";
import { extAuthz } from "./ext-authz.js";
import type { HttpFilterFeature } from "./feature.js";
import { globalRateLimit } from "./global-ratelimit.js";
import { jwtAuthn } from "./jwt-authn.js";
import { localRateLimit } from "./local-ratelimit.js";
import { rbac } from "./rbac.js";
import { router } from "./router.js";

/**
 * The HTTP filter chain, in order: the client's network first (clientCIDRs), verified identity (JWT),
 * then what the identity may do (RBAC, bulwark authz), then how much (local and global limits),
 * request size, response compression, and the router.
 */
export const HTTP_FILTER_FEATURES: readonly HttpFilterFeature[] = [
  clientCidrs,
  jwtAuthn,
  rbac,
  extAuthz,
  localRateLimit,
  globalRateLimit,
  buffer,
  compressor,
  router,
];
