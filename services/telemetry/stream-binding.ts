/**
 * Who may report what on a telemetry stream. A stream is authenticated as a pod (a projected
 * ServiceAccount token of the telemetry audience, checked with TokenReview); it is then bound to
 * that pod: the node id it declares must be the pod's own (`<pod>.<namespace>`), and the workload
 * its log name names must be in the pod's namespace. A pod can then report only as itself and
 * only about its own namespace's workloads, so it cannot get an address, a device or an account
 * blocked under another namespace's policy. Pure.
 */
import { TELEMETRY_LOG_PREFIX } from "../../contract/telemetry.js";
import { nodeIdOf, type RejectionReason, type StreamIdentity } from "../../envoy/xds/stream-auth.js";

/** Why a telemetry stream (or connection) was refused: the label of bulwark_telemetry_rejected_streams_total. */
export type TelemetryRejectionReason =
  | RejectionReason
  /** The log name is not a policy workload's (`apisecuritypolicy/<ns>/<name>/ports/...`), or names another namespace than the token's pod. */
  | "namespace_mismatch"
  /** The connection did not complete a TLS handshake (plaintext, or a client that does not trust the certificate). */
  | "tls";

export type Binding = { ok: true } | { ok: false; reason: TelemetryRejectionReason; message: string };

const DNS_LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
const DNS_SUBDOMAIN = "[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?";
/** A policy workload's IR name (operator/ir/names.ts workloadName): the namespace is its second segment. */
const POLICY_WORKLOAD = new RegExp(`^apisecuritypolicy/(${DNS_LABEL})/${DNS_SUBDOMAIN}/ports/[0-9]`);

/** The namespace of the policy workload a telemetry log name names, or undefined when it names none (pass-through workloads stream no telemetry). */
export function namespaceOfLogName(logName: string | undefined): string | undefined {
  if (!logName?.startsWith(TELEMETRY_LOG_PREFIX)) return undefined;
  return POLICY_WORKLOAD.exec(logName.slice(TELEMETRY_LOG_PREFIX.length))?.[1];
}

/** Shown in a log line: at most 80 printable characters of what a stream claimed. */
function shown(value: string): string {
  const printable = value.replace(/[^\x20-\x7e]/g, "?");
  return JSON.stringify(printable.length > 80 ? `${printable.slice(0, 80)}...` : printable);
}

/** Whether an authenticated stream's first message (its node id and log name) is the token's pod's. */
export function bindStream(identity: StreamIdentity, declared: { nodeId: string | undefined; logName: string | undefined }): Binding {
  const expected = nodeIdOf(identity);
  const nodeId = declared.nodeId ?? "";
  if (nodeId !== expected)
    return {
      ok: false,
      reason: "node_mismatch",
      message: `the token is ${identity.namespace}/${identity.pod}'s (node id ${expected}), the stream declares node id ${shown(nodeId)}`,
    };
  const namespace = namespaceOfLogName(declared.logName);
  if (namespace === undefined)
    return {
      ok: false,
      reason: "namespace_mismatch",
      message: `the log name ${shown(declared.logName ?? "")} does not name a policy workload (${TELEMETRY_LOG_PREFIX}apisecuritypolicy/<namespace>/<policy>/ports/...)`,
    };
  if (namespace !== identity.namespace)
    return {
      ok: false,
      reason: "namespace_mismatch",
      message: `the token is of a pod in namespace ${identity.namespace}, the stream reports for a workload in namespace ${namespace}`,
    };
  return { ok: true };
}
