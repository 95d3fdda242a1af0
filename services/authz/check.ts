import type { JWTVerifyGetKey } from "jose";
import type { JwksIR } from "../../contract/ir.js";
import { checkApiKey } from "./api-key.js";
import { checkAppVersion } from "./app-version.js";
import { checkAttestation } from "./attestation.js";
import { checkCertificateBinding } from "./certificate-binding.js";
import type { RouteConfig, RouteTable } from "./config.js";
import { allow, refuse, type Decision, type Header, type RefusalReason } from "./decision.js";
import { ShadowHeader } from "../../contract/wire.js";
import { checkDpop } from "./dpop.js";
import type { DpopNonces } from "./dpop-nonce.js";
import { checkOwnership } from "./ownership.js";
import { checkTokenAge } from "./token-age.js";
import type { ReplayStore } from "./replay-store.js";
import type { AuthzRequest } from "./request.js";
import { checkAdaptive, type AdaptiveDeps, type AdaptiveOutcome } from "./adaptive-check.js";

type AdaptiveShadow = Exclude<AdaptiveOutcome, { refusal: Decision }>;

export interface CheckDeps {
  /** Milliseconds since the epoch. */
  now: () => number;
  replay: ReplayStore;
  nonces: DpopNonces;
  keys: (jwks: JwksIR) => JWTVerifyGetKey;
  /** Adaptive actions and throttle counters; without them a route with adaptive checks refuses (503 config_not_loaded). */
  adaptive?: AdaptiveDeps;
}

/**
 * The decision for one request: the route's checks in order of cost and of what the client
 * should fix first — on a partner route only its API key (401); else app version (426), token age (401), sender constraint (401), attestation (401), ownership
 * (403). Anything missing (no table yet, an unknown route, a check without its settings) refuses.
 */
export async function check(request: AuthzRequest, table: RouteTable | undefined, deps: CheckDeps): Promise<Decision> {
  if (!table) return refuse(503, "config_not_loaded");
  const route = request.route === undefined ? undefined : table.routes.get(request.route);
  if (!route) return refuse(503, "route_unknown");
  let adaptive: AdaptiveShadow | undefined;
  if (route.checks.adaptive) {
    // First: a flagged identity is refused before any other check spends work on it.
    if (!route.adaptive || !deps.adaptive) return refuse(503, "config_not_loaded");
    const outcome = await checkAdaptive(request, route.adaptive, deps.adaptive, deps.now());
    if ("refusal" in outcome) return outcome.refusal;
    adaptive = outcome;
  }
  // A partner route: the key is the whole decision (the route checks no token, version or attestation).
  const decision = route.checks.apiKey ? partnerDecision(request, route) : await appDecision(request, route, deps);
  return adaptive ? withAdaptiveShadow(decision, adaptive) : decision;
}

/** An allowed decision with the adaptive Shadow verdict added for the backend (the first shadow refusal is the one reported). */
function withAdaptiveShadow(decision: Decision, adaptive: AdaptiveShadow): Decision {
  if (!decision.allowed || adaptive.upstream.length === 0) return decision;
  const shadowRefusal = adaptive.shadowRefusal ?? decision.shadowRefusal;
  return {
    ...decision,
    upstreamHeaders: [...(decision.upstreamHeaders ?? []), ...adaptive.upstream],
    ...(shadowRefusal ? { shadowRefusal } : {}),
  };
}

function partnerDecision(request: AuthzRequest, route: RouteConfig): Decision {
  const outcome = checkApiKey(request.headers, route.apiKeys);
  return "allowed" in outcome ? outcome : allow([], { set: outcome.setHeaders, remove: outcome.removeHeaders });
}

/** The checks of a route the app calls, in order. */
async function appDecision(request: AuthzRequest, route: RouteConfig, deps: CheckDeps): Promise<Decision> {
  const { checks } = route;
  const headers: Header[] = [];

  if (checks.minAppVersion) {
    if (!route.minAppVersion) return refuse(503, "config_not_loaded");
    const outcome = checkAppVersion(request.headers, route.minAppVersion);
    if (outcome) return outcome;
  }
  if (checks.tokenAge) {
    if (!route.tokenAge) return refuse(503, "config_not_loaded");
    const outcome = checkTokenAge({ payload: request.jwtPayload, limits: route.tokenAge, authentication: route.authentication, dpop: checks.dpop, nowMs: deps.now() });
    if (outcome) return outcome;
  }
  if (checks.dpop) {
    const dpop = route.senderConstraint?.dpop;
    if (!dpop) return refuse(503, "config_not_loaded");
    const outcome = await checkDpop(request, dpop, deps);
    if (outcome && !outcome.allowed) return outcome;
    if (outcome?.allowed) headers.push(...outcome.responseHeaders);
  }
  if (checks.certificateBound) {
    const mtls = route.senderConstraint?.mtls;
    if (!mtls) return refuse(503, "config_not_loaded");
    const outcome = checkCertificateBinding({ payload: request.jwtPayload, peerCertificate: request.peerCertificate, required: mtls.required });
    if (outcome) return outcome;
  }
  if (checks.appAttestation) {
    const outcome = await checkAttestation(request.headers, route.appAttestation, deps);
    if (outcome) return outcome;
  }
  if (checks.ownership) return ownershipDecision(request, checks.ownership, headers);
  return allow(headers);
}

/** The last check: the owner's path (Enforce), or its verdict for the backend (Shadow). */
function ownershipDecision(request: AuthzRequest, ownership: Parameters<typeof checkOwnership>[2] & { shadow?: true }, headers: Header[]): Decision {
  const outcome = checkOwnership(request.path, request.jwtPayload, ownership);
  if (ownership.shadow) return allow(headers, shadowOwnership(outcome));
  return outcome ?? allow(headers);
}

/** Ownership in dry run (authorizationMode Shadow): the backend learns the verdict; a refusal is reported, not returned. */
function shadowOwnership(outcome: Decision | undefined): { set: Header[]; shadowRefusal?: RefusalReason } {
  const refusal = outcome && !outcome.allowed ? outcome.reason : undefined;
  return { set: [{ name: ShadowHeader.ownership, value: refusal ? "denied" : "allowed" }], ...(refusal ? { shadowRefusal: refusal } : {}) };
}
