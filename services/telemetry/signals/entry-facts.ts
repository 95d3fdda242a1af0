import type { IdentityKind, TelemetryEntry } from "../../../contract/telemetry.js";
import type { RefusalReason } from "../../authz/decision.js";

/** What the detectors read from an entry beyond its fields: who made it, whether it was an authentication failure, which object it named. */

export interface Identity {
  kind: IdentityKind;
  value: string;
}

/** The most specific identity of the caller: its account (verified subject), else its device, else its client address. */
export function callerIdentity(entry: TelemetryEntry): Identity {
  if (entry.subject) return { kind: "Account", value: entry.subject };
  if (entry.device) return { kind: "Device", value: entry.device };
  return { kind: "ClientAddress", value: entry.clientAddress };
}

/** The table key of an identity within a workload. */
export function identityKey(workload: string, identity: Identity): string {
  return `${workload}\n${identity.kind}\n${identity.value}`;
}

/** authz refusals that are proof replays: a DPoP proof or an attestation token presented twice. */
export const REPLAY_REASONS: ReadonlySet<string> = new Set<RefusalReason>(["dpop_proof_replayed", "attestation_replayed"]);

/** authz refusals that say the app's integrity could not be shown by the client (not those where Bulwark itself could not check). */
export const ATTESTATION_FAILURE_REASONS: ReadonlySet<string> = new Set<RefusalReason>([
  "attestation_missing",
  "attestation_oversized",
  "attestation_invalid",
  "attestation_app_id",
  "attestation_verdict",
  "attestation_jti_missing",
]);

/**
 * 401s that are not failures: the DPoP nonce challenge is a normal step of the protocol (the
 * client retries with the nonce), and the others are Bulwark's own outages, not the caller's.
 */
const NOT_CALLER_FAILURES: ReadonlySet<string> = new Set<RefusalReason>([
  "dpop_nonce_required",
  "replay_store_unavailable",
  "config_not_loaded",
  "attestation_keys_unavailable",
  "attestation_not_configured",
  "dpop_proof_predates_replay_cache",
  "attestation_predates_replay_cache",
]);

/**
 * A token that was valid and has aged out: the ordinary refresh step of an app using short-lived
 * tokens (each session opened after the token's lifetime starts with one), so its count follows
 * how many sessions start, not attacks. A stolen token presented late fails here too and harms
 * nobody; a forged or tampered one fails verification and is counted.
 */
const EXPIRED_CREDENTIAL = /^jwt_authn_access_denied\{Jwt_is_expired\}$/;

const AUTH_REASON = /^(jwt_authn_access_denied|token_|dpop_|attestation_|api_key_|certificate_)/;

/** An authentication failure: a 401 (not a nonce challenge, an outage of Bulwark's or an expired token), or a refusal whose reason is about the caller's credentials (token, proof, attestation, key, certificate). */
export function isAuthFailure(entry: TelemetryEntry): boolean {
  const reason = entry.reason;
  if (reason !== undefined && (NOT_CALLER_FAILURES.has(reason) || EXPIRED_CREDENTIAL.test(reason))) return false;
  if (entry.status === 401) return true;
  return reason !== undefined && AUTH_REASON.test(reason);
}

const NUMERIC = /^\d{1,19}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const OPAQUE = /^(?=[A-Za-z0-9_-]{16,}$)(?=.*\d)(?=.*[A-Za-z])/;

/** Whether a path segment is an object identifier: a number, a UUID, or an opaque token of 16+ letters and digits mixed. */
export function isIdSegment(segment: string): boolean {
  return NUMERIC.test(segment) || UUID.test(segment) || OPAQUE.test(segment);
}

/** The object a path names: its template (ids replaced by `{id}`) and its last identifier, or undefined when it names none. */
export function objectOf(path: string): { template: string; id: string; numeric?: number } | undefined {
  const segments = path.split("/");
  let last = -1;
  for (let i = 0; i < segments.length; i++) {
    if (isIdSegment(segments[i]!)) last = i;
  }
  if (last < 0) return undefined;
  const id = segments[last]!;
  const template = segments.map((s) => (isIdSegment(s) ? "{id}" : s)).join("/");
  return NUMERIC.test(id) && id.length <= 15 ? { template, id, numeric: Number(id) } : { template, id };
}

/** The policy a workload's IR name belongs to (`apisecuritypolicy/<ns>/<name>/port/<n>`). */
export function policyOfWorkload(workload: string): { namespace: string; name: string } {
  const [, namespace = "", name = ""] = workload.split("/");
  return { namespace, name };
}
