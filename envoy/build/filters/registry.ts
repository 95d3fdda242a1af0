import { buffer } from "./buffer.js";
import { callers } from "./callers.js";
import { clientAddressMetadata } from "./client-address-metadata.js";
import { clientCidrs } from "./client-cidrs.js";
import { compressor } from "./compressor.js";
import { cors } from "./cors.js";
import { extAuthz } from "./ext-authz.js";
import type { HttpFilterFeature } from "./feature.js";
import { globalRateLimit } from "./global-ratelimit.js";
import { jwtAuthn } from "./jwt-authn.js";
import { localRateLimit } from "./local-ratelimit.js";
import { notModified } from "./not-modified.js";
import { rbac } from "./rbac.js";
import { requestMeaning } from "./request-meaning.js";
import { router } from "./router.js";

/**
 * The HTTP filter chain, in order: the client's network first (clientCIDRs) and its mesh identity
 * (callers), what the request
 * means (refusals and normalisation every decision relies on), CORS (preflights answered by the
 * sidecar, before any token is asked for; CORS headers on every answer after it), its size (the whole body is held
 * to the route's limit before any filter can pause the request: a limit placed after an
 * asynchronous check would see a body that arrived during the check only at its end, and let it
 * through), verified identity (JWT), what the identity may do (RBAC, bulwark authz), how much
 * (local and global limits), response compression, and the router.
 */
export const HTTP_FILTER_FEATURES: readonly HttpFilterFeature[] = [
  clientCidrs,
  callers,
  requestMeaning,
  // The decided client address for bulwark authz (adaptive response), before ext_authz.
  clientAddressMetadata,
  cors,
  buffer,
  jwtAuthn,
  rbac,
  extAuthz,
  localRateLimit,
  globalRateLimit,
  compressor,
  notModified,
  router,
];
