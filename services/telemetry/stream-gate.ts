/**
 * The gate in front of a telemetry stream's handlers: the stream's `authorization: Bearer <token>`
 * metadata is checked by the authenticator (TokenReview, telemetry audience) while the stream is
 * held (paused; what already arrived is queued, boundedly), then its first message is bound to the
 * token's pod (stream-binding.ts). Until both pass nothing reaches the handlers, so no entry of a
 * refused stream reaches any sink. A refusal ends the call with UNAUTHENTICATED, PERMISSION_DENIED
 * or (TokenReview unavailable: refused, never trusted) UNAVAILABLE, and is reported without the token.
 */
import { bearerToken, type StreamAuthenticator, type StreamIdentity } from "../../envoy/xds/stream-auth.js";
import type { StreamCall, StreamHandlers } from "../grpc/h2-server.js";
import { GrpcStatus, type GrpcStatusCode } from "../grpc/status.js";
import type { StreamAccessLogsMessage } from "../ratelimit/messages.js";
import { bindStream, type TelemetryRejectionReason } from "./stream-binding.js";

export interface TelemetryRejection {
  reason: TelemetryRejectionReason;
  /** The client's address and port. */
  peer: string;
  /** What is wrong, for the log (never the token). */
  message: string;
}

const REJECTION_CODE: Record<TelemetryRejectionReason, GrpcStatusCode> = {
  no_token: GrpcStatus.UNAUTHENTICATED,
  invalid_token: GrpcStatus.UNAUTHENTICATED,
  wrong_audience: GrpcStatus.UNAUTHENTICATED,
  not_pod_token: GrpcStatus.UNAUTHENTICATED,
  plaintext: GrpcStatus.UNAUTHENTICATED,
  tls: GrpcStatus.UNAUTHENTICATED,
  node_mismatch: GrpcStatus.PERMISSION_DENIED,
  namespace_mismatch: GrpcStatus.PERMISSION_DENIED,
  unavailable: GrpcStatus.UNAVAILABLE,
};

/** How long a token may take to be checked before the stream is refused as unavailable (an API server that hangs refuses, never admits). */
export const AUTHENTICATION_TIMEOUT_MS = 10_000;

/** Messages a stream may send while its token is being checked (the stream is paused meanwhile, so only what was already read). */
const MAX_QUEUED_MESSAGES = 16;

type Handlers = StreamHandlers<StreamAccessLogsMessage>;

function tokenOf(call: StreamCall<unknown>): { token: string } | { problem: string } {
  const header = call.headers.authorization;
  const token = bearerToken(typeof header === "string" ? header : undefined);
  if (token) return { token };
  return {
    problem:
      header === undefined
        ? "no authorization metadata: sidecars present a projected ServiceAccount token of the telemetry audience (authorization: Bearer <token>)"
        : "the authorization metadata is not one Bearer token",
  };
}

/**
 * `inner` behind the gate: it sees the messages of `call` only once the stream's token is a pod's
 * and the stream's first message declares that pod and a workload of its namespace.
 */
export function gateStream(options: {
  call: StreamCall<unknown>;
  authenticator: StreamAuthenticator;
  inner: Handlers;
  /** Called once for a refused stream, before the call ends. */
  reject: (rejection: TelemetryRejection) => void;
  /** Default AUTHENTICATION_TIMEOUT_MS. */
  timeoutMs?: number;
}): Handlers {
  const { call, inner } = options;
  let identity: StreamIdentity | undefined;
  let bound = false;
  let done = false;
  let clientEnded = false;
  let queue: StreamAccessLogsMessage[] = [];
  let timer: NodeJS.Timeout | undefined;
  const stop = (code: GrpcStatusCode, message: string): void => {
    done = true;
    clearTimeout(timer);
    queue = [];
    call.finish(code, message);
    // Drained (and ignored: the call has ended), so the refused stream closes at once.
    call.resume();
    inner.cancelled?.();
  };
  const refuse = (reason: TelemetryRejectionReason, message: string): void => {
    if (done) return;
    options.reject({ reason, peer: call.peer, message });
    stop(REJECTION_CODE[reason], message);
  };
  const pass = (message: StreamAccessLogsMessage, pod: StreamIdentity): void => {
    if (done || call.ended) return;
    if (!bound) {
      const binding = bindStream(pod, { nodeId: message.identifier?.node?.id, logName: message.identifier?.log_name });
      if (!binding.ok) return refuse(binding.reason, binding.message);
      bound = true;
    }
    inner.message(message);
  };
  const presented = tokenOf(call);
  if ("problem" in presented) refuse("no_token", presented.problem);
  else {
    call.pause();
    const timeoutMs = options.timeoutMs ?? AUTHENTICATION_TIMEOUT_MS;
    timer = setTimeout(() => refuse("unavailable", `the token could not be checked within ${timeoutMs} ms`), timeoutMs);
    void options.authenticator.authenticate(presented.token).then((result) => {
      clearTimeout(timer);
      if (done || call.ended) return;
      if (!result.ok) return refuse(result.reason, result.message);
      identity = result.identity;
      const waiting = queue;
      queue = [];
      for (const message of waiting) pass(message, result.identity);
      if (done) return;
      if (clientEnded) inner.end();
      else call.resume();
    });
  }
  return {
    message: (message) => {
      if (done) return;
      if (identity) return pass(message, identity);
      if (queue.length >= MAX_QUEUED_MESSAGES) return stop(GrpcStatus.RESOURCE_EXHAUSTED, `more than ${MAX_QUEUED_MESSAGES} messages before the stream was authenticated`);
      queue.push(message);
    },
    end: () => {
      if (done) return;
      if (identity) inner.end();
      else clientEnded = true;
    },
    cancelled: () => {
      done = true;
      clearTimeout(timer);
      queue = [];
      inner.cancelled?.();
    },
  };
}
