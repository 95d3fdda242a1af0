/**
 * Who may open an ADS stream, as the xDS server sees it: the server asks an authenticator (the
 * Kubernetes side implements it with TokenReview) who the bearer of a stream's token is, and
 * serves the stream only the node id of that pod. Kept free of Kubernetes types.
 */
import { sidecarNodeIdOf } from "../../contract/wire.js";

/** The pod a stream was authenticated as. */
export interface StreamIdentity {
  namespace: string;
  serviceAccount: string;
  pod: string;
  podUid?: string;
}

/** Why a stream (or a connection) got nothing; the label of the rejected-streams metric. */
export type RejectionReason =
  /** TLS required, and the connection spoke plaintext. */
  | "plaintext"
  /** No `authorization: Bearer <token>` metadata. */
  | "no_token"
  /** The API server does not accept the token (expired, revoked, bad signature, its pod gone). */
  | "invalid_token"
  /** A valid token, but not for Bulwark's audience. */
  | "wrong_audience"
  /** A valid token not bound to a pod (a long-lived or unbound ServiceAccount token). */
  | "not_pod_token"
  /** The node id the stream declares is not the pod its token names. */
  | "node_mismatch"
  /** The token could not be checked (the API server unreachable): refused, not trusted. */
  | "unavailable";

export type Authentication = { ok: true; identity: StreamIdentity } | { ok: false; reason: RejectionReason; message: string };

export interface StreamAuthenticator {
  /** Checks a bearer token; never throws (a failure is a rejection with a reason). */
  authenticate(token: string): Promise<Authentication>;
}

export interface StreamRejection {
  reason: RejectionReason;
  /** The peer's address, as gRPC reports it. */
  peer: string;
  /** What is wrong, for the log (never the token). */
  message: string;
  /** The node id the stream declared, when it got that far (already checked to be well formed). */
  nodeId?: string;
}

/** The node id a pod's sidecar must declare: `<pod>.<namespace>`. */
export function nodeIdOf(identity: StreamIdentity): string {
  return sidecarNodeIdOf(identity.pod, identity.namespace);
}

/** The bearer token of an `authorization` header value, or undefined. */
export function bearerToken(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const match = /^bearer[ \t]+(\S+)[ \t]*$/i.exec(value);
  return match?.[1];
}
