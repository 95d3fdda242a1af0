import type { Logger } from "pino";
import type { TelemetryEntry, TelemetrySink } from "../../contract/telemetry.js";
import { STREAM_ACCESS_LOGS_PATH } from "../../contract/wire.js";
import { errorMessage } from "../../common/errors.js";
import { GrpcH2Server, type StreamCall, type StreamHandlers } from "../grpc/h2-server.js";
import { GrpcStatus } from "../grpc/status.js";
import { decodeStreamAccessLogs, encodeStreamAccessLogsResponse } from "../ratelimit/codec.js";
import type { StreamAccessLogsMessage } from "../ratelimit/messages.js";
import { telemetryEntryOf, workloadOfLogName } from "./entry.js";
import { TelemetryMetrics } from "./metrics.js";
import type { StreamAuthenticator } from "../../envoy/xds/stream-auth.js";
import { gateStream, type TelemetryRejection } from "./stream-gate.js";

/** Largest message read: a sidecar flushes at 16 KiB (telemetry-log.ts), so a 1 MiB message is broken or hostile. */
export const MAX_TELEMETRY_MESSAGE_BYTES = 1024 * 1024;
const MAX_NODE_ID = 256;

export interface TelemetryReceiverOptions {
  sinks: readonly TelemetrySink[];
  log: Logger;
  metrics?: TelemetryMetrics;
  maxMessageBytes?: number;
  /**
   * Who may stream: each stream presents a projected ServiceAccount token of the telemetry
   * audience (TELEMETRY_TOKEN_AUDIENCE), checked by `authenticator` (TokenReview), and is bound
   * to the token's pod: its node id must be the pod's, its log name a workload of the pod's
   * namespace (stream-gate.ts, stream-binding.ts). Absent: every stream is believed about who it
   * is and which workload it reports for — only for tests in one process and for `bulwark
   * telemetry` without --cluster, whose conclusions are logged and counted and act on nothing.
   */
  authentication?: { authenticator: StreamAuthenticator; timeoutMs?: number };
  /** The serving certificate (PEM, with its chain) and key; absent: plaintext HTTP/2. */
  tls?: { certPem: string; keyPem: string };
}

/**
 * bulwark telemetry's gRPC face: AccessLogService/StreamAccessLogs, over which every sidecar of a
 * policy with spec.telemetry streams its finished requests. Each batch becomes TelemetryEntry
 * values (entry.ts), handed to every sink in turn; a sink that throws is counted and logged, and
 * neither the other sinks nor the stream notice. A stream names its sidecar (node id) and its
 * workload (log name) in its first message; a stream whose first message does not is ended.
 * With `authentication`, those claims are believed only as far as the stream's token goes
 * (stream-gate.ts): a pod reports as itself, for its own namespace's policies, or not at all.
 */
export class TelemetryReceiver {
  private server: GrpcH2Server | undefined;
  readonly metrics: TelemetryMetrics;
  /** Counts for tests and diagnostics. */
  readonly stats = { entries: 0, streams: 0, decodeErrors: 0, sinkErrors: 0 };
  private readonly sinks: TelemetrySink[];
  private sinkWarned = false;

  constructor(private readonly options: TelemetryReceiverOptions) {
    this.metrics = options.metrics ?? new TelemetryMetrics();
    this.sinks = [...options.sinks];
  }

  /** Adds a sink (for instance the inventory, once it is ready). */
  addSink(sink: TelemetrySink): void {
    this.sinks.push(sink);
  }

  private decodeError(): void {
    this.stats.decodeErrors++;
    this.metrics.decodeErrors.inc();
  }

  /** Hands one batch to every sink; a failing sink costs only itself. */
  deliver(entries: readonly TelemetryEntry[]): void {
    if (entries.length === 0) return;
    this.stats.entries += entries.length;
    this.metrics.entries.inc(entries.length);
    for (const sink of this.sinks) {
      try {
        sink(entries);
      } catch (error) {
        this.stats.sinkErrors++;
        this.metrics.sinkErrors.inc();
        if (!this.sinkWarned)
          this.options.log.warn({ err: errorMessage(error) }, "a telemetry sink failed; its batch is dropped for it (logged once; see bulwark_telemetry_sink_errors_total)");
        this.sinkWarned = true;
      }
    }
  }

  /** The entries of one batch of a stream that named `workload`; an entry that cannot be read is counted and skipped. */
  entriesOf(message: StreamAccessLogsMessage, source: { workload: string; sidecar?: string }): TelemetryEntry[] {
    const out: TelemetryEntry[] = [];
    for (const raw of message.http_logs?.log_entry ?? []) {
      try {
        const entry = telemetryEntryOf(source.workload, raw);
        out.push(source.sidecar === undefined ? entry : { ...entry, sidecar: source.sidecar });
      } catch {
        this.decodeError();
      }
    }
    return out;
  }

  /** Counts and logs a refused stream or connection (without its token). */
  private rejected(rejection: TelemetryRejection): void {
    this.metrics.rejectedStreams.inc({ reason: rejection.reason });
    this.options.log.warn({ peer: rejection.peer, reason: rejection.reason }, `refused a telemetry stream: ${rejection.message}`);
  }

  private stream(call: StreamCall<unknown>): StreamHandlers<StreamAccessLogsMessage> {
    const handlers = this.believingStream(call);
    const authentication = this.options.authentication;
    if (!authentication) return handlers;
    return gateStream({
      call,
      authenticator: authentication.authenticator,
      inner: handlers,
      reject: (r) => this.rejected(r),
      ...(authentication.timeoutMs !== undefined ? { timeoutMs: authentication.timeoutMs } : {}),
    });
  }

  /** The handlers of a stream whose claims (node id, workload) are believed: behind the gate, or without authentication. */
  private believingStream(call: StreamCall<unknown>): StreamHandlers<StreamAccessLogsMessage> {
    let source: { workload: string; sidecar?: string } | undefined;
    this.stats.streams++;
    this.metrics.streamsOpened.inc();
    this.metrics.openStreams.inc();
    let open = true;
    const closed = (): void => {
      if (open) this.metrics.openStreams.dec();
      open = false;
    };
    return {
      message: (message) => {
        if (!source) {
          const workload = workloadOfLogName(message.identifier?.log_name);
          if (workload === undefined) {
            this.decodeError();
            call.finish(GrpcStatus.INVALID_ARGUMENT, `not a telemetry stream: its first message must name a log ${JSON.stringify("bulwark-telemetry/<workload>")}`);
            return closed();
          }
          const node = message.identifier?.node?.id;
          source = { workload, ...(node ? { sidecar: node.slice(0, MAX_NODE_ID) } : {}) };
        }
        this.deliver(this.entriesOf(message, source));
      },
      end: () => {
        closed();
        call.send({});
        call.finish();
      },
      cancelled: closed,
    };
  }

  /** Listens on host:port (0: a free port); resolves with the port. Rejects when the address is taken. */
  async start(host: string, port: number): Promise<number> {
    const log = this.options.log;
    const server = new GrpcH2Server({
      maxMessageBytes: this.options.maxMessageBytes ?? MAX_TELEMETRY_MESSAGE_BYTES,
      onHandlerError: (path, error) => log.error({ err: errorMessage(error), path }, "gRPC handler failed"),
      ...(this.options.tls
        ? {
            tls: this.options.tls,
            onTlsError: (peer: string, error: Error) => this.rejected({ reason: "tls", peer, message: `the TLS handshake failed: ${errorMessage(error)}` }),
          }
        : {}),
    });
    server.add(STREAM_ACCESS_LOGS_PATH, {
      kind: "stream",
      decode: (bytes: Uint8Array) => {
        try {
          return decodeStreamAccessLogs(bytes);
        } catch (error) {
          this.decodeError();
          throw error;
        }
      },
      encode: encodeStreamAccessLogsResponse,
      open: (call) => this.stream(call),
    });
    const bound = await server.listen(host, port);
    this.server = server;
    return bound;
  }

  /** Finishes streams for up to graceMs, then cancels the rest. */
  stop(graceMs = 1000): Promise<void> {
    const server = this.server;
    this.server = undefined;
    return server ? server.close(graceMs) : Promise.resolve();
  }
}
