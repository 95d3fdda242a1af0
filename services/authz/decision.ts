import type { AuthzRequest } from "./request.js";
import { REASON_HEADER } from "../../contract/wire.js";
import type { SignalKind } from "../../contract/telemetry.js";

/** Machine-readable refusal reasons: sent in `x-bulwark-reason` and logged. */
export type RefusalReason =
  | "route_unknown"
  | "config_not_loaded"
  | "token_missing"
  | "token_malformed"
  | "token_iat_missing"
  | "token_iat_future"
  | "token_too_old"
  | "token_lifetime_too_long"
  | "dpop_proof_missing"
  | "dpop_proof_multiple"
  | "dpop_proof_oversized"
  | "dpop_proof_malformed"
  | "dpop_proof_typ"
  | "dpop_proof_alg"
  | "dpop_proof_signature"
  | "dpop_proof_private_key"
  | "dpop_proof_claims"
  | "dpop_proof_htm"
  | "dpop_proof_htu"
  | "dpop_proof_iat"
  | "dpop_proof_ath"
  | "dpop_proof_replayed"
  | "dpop_proof_predates_replay_cache"
  | "dpop_nonce_required"
  | "dpop_token_not_bound"
  | "dpop_key_mismatch"
  | "dpop_bound_token_as_bearer"
  | "replay_store_unavailable"
  | "certificate_missing"
  | "certificate_malformed"
  | "certificate_token_not_bound"
  | "certificate_mismatch"
  | "attestation_missing"
  | "attestation_oversized"
  | "attestation_invalid"
  | "attestation_keys_unavailable"
  | "attestation_app_id"
  | "attestation_verdict"
  | "attestation_jti_missing"
  | "attestation_replayed"
  | "attestation_predates_replay_cache"
  | "attestation_not_configured"
  | "ownership_claim_missing"
  | "ownership_mismatch"
  | "app_version_missing"
  | "app_version_malformed"
  | "app_version_outdated"
  | "api_key_missing"
  | "api_key_invalid"
  // adaptive response (adaptive-check.ts): the signal that flagged the identity
  | `adaptive-block:${SignalKind}`
  | `adaptive-throttle:${SignalKind}`
  | "adaptive_store_unavailable";

export interface Header {
  name: string;
  value: string;
}

export type Decision =
  | {
      allowed: true;
      /** Response headers for the client, e.g. a fresh DPoP-Nonce. */
      responseHeaders: Header[];
      /** Request headers for the backend, replacing what the client sent (an API client's name, a dry-run verdict). */
      upstreamHeaders?: Header[];
      /** Request headers removed before the backend (an API key). */
      removeHeaders?: string[];
      /** What a Shadow check would have refused (reported, not enforced). */
      shadowRefusal?: RefusalReason;
    }
  | { allowed: false; status: number; reason: RefusalReason; headers: Header[]; body: string };

/** A refusal with the reason header and a JSON body naming the reason (never a token or a claim value). */
export function refuse(status: number, reason: RefusalReason, options: { headers?: Header[]; body?: unknown } = {}): Decision {
  return {
    allowed: false,
    status,
    reason,
    headers: [{ name: REASON_HEADER, value: reason }, { name: "content-type", value: "application/json" }, ...(options.headers ?? [])],
    body: JSON.stringify(options.body ?? { error: reason }),
  };
}

/** An allowed request, with what the backend is to receive instead of what the client sent. */
export function allow(responseHeaders: Header[] = [], upstream?: { set: Header[]; remove?: string[]; shadowRefusal?: RefusalReason }): Decision {
  if (!upstream) return { allowed: true, responseHeaders };
  return {
    allowed: true,
    responseHeaders,
    upstreamHeaders: upstream.set,
    ...(upstream.remove ? { removeHeaders: upstream.remove } : {}),
    ...(upstream.shadowRefusal ? { shadowRefusal: upstream.shadowRefusal } : {}),
  };
}

/** One check's outcome: nothing to say, or a refusal. */
export type CheckOutcome = Decision | undefined;

export type { AuthzRequest };
