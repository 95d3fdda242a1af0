import type { Logger } from "pino";
import { Counter, Gauge, type Registry } from "prom-client";
import type { SignalEvent } from "../../../contract/telemetry.js";

/**
 * Where a signal goes once fired: a Prometheus counter, a JSON log line a SIEM can ingest, and a
 * Kubernetes Event on the policy (the lead's controller sends it; this builds its fields).
 */

/** Prometheus metrics of the signals: firings by kind and policy, and the size of every detector's table. */
export class SignalMetrics {
  readonly fired: Counter<"kind" | "namespace" | "policy">;

  constructor(registry: Registry, sizes: () => Record<string, Record<string, number>>) {
    this.fired = new Counter({
      name: "bulwark_signals_fired_total",
      help: "Abuse signals fired, by kind (FailedAuthSpike, CredentialStuffing, CardTesting, Enumeration, Scraping, ImpossibleTravel, ReplayedProof, AttestationFailure) and the policy whose traffic fired them.",
      labelNames: ["kind", "namespace", "policy"],
      registers: [registry],
    });
    new Gauge({
      name: "bulwark_signals_tracked",
      help: "Identities (or workloads, for FailedAuthSpike) each signal detector holds state for; bounded by its table's capacity.",
      labelNames: ["kind", "table"],
      registers: [registry],
      collect(): void {
        this.reset();
        for (const [kind, tables] of Object.entries(sizes())) for (const [table, size] of Object.entries(tables)) this.set({ kind, table }, size);
      },
    });
  }

  record(event: SignalEvent): void {
    this.fired.inc({ kind: event.kind, namespace: event.policy.namespace, policy: event.policy.name });
  }
}

/**
 * The JSON log record of one signal, with stable field names (snake_case, flat) for SIEM
 * pipelines: `event` is always `bulwark_abuse_signal`; identity fields are absent for
 * workload-wide signals; `signal_time` is the time of the traffic that fired it (ISO 8601 UTC).
 */
export interface SignalLogRecord {
  event: "bulwark_abuse_signal";
  signal: SignalEvent["kind"];
  workload: string;
  policy_namespace: string;
  policy_name: string;
  identity_kind?: string;
  identity_value?: string;
  value: number;
  threshold: number;
  signal_time: string;
}

export function signalLogRecord(event: SignalEvent): SignalLogRecord {
  return {
    event: "bulwark_abuse_signal",
    signal: event.kind,
    workload: event.workload,
    policy_namespace: event.policy.namespace,
    policy_name: event.policy.name,
    ...(event.identity ? { identity_kind: event.identity.kind, identity_value: event.identity.value } : {}),
    value: event.value,
    threshold: event.threshold,
    signal_time: new Date(event.timeMs).toISOString(),
  };
}

/** Logs a signal at warn level: the record's fields, and the event's sentence as pino's `msg`. */
export function logSignal(logger: Logger, event: SignalEvent): void {
  logger.warn(signalLogRecord(event), event.message);
}

/** The fields of the Kubernetes Event (events.k8s.io/v1) the controller records on the policy for a signal. */
export interface SignalKubernetesEvent {
  type: "Warning";
  /** The signal's kind: CredentialStuffing, ... (UpperCamelCase, as Event reasons are). */
  reason: string;
  action: "Detected";
  /** The event's sentence (the API server refuses notes over 1 KiB; longer ones are cut). */
  note: string;
}

const MAX_NOTE = 1024;

export function signalKubernetesEvent(event: SignalEvent): SignalKubernetesEvent {
  const note = `${event.message} (value ${event.value}, threshold ${event.threshold}, workload ${event.workload})`;
  return { type: "Warning", reason: event.kind, action: "Detected", note: note.length <= MAX_NOTE ? note : `${note.slice(0, MAX_NOTE - 1)}…` };
}
