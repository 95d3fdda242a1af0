import { Counter, Gauge, Registry } from "prom-client";

/** bulwark telemetry's Prometheus metrics. No per-workload labels: a sidecar names its workload itself, so labels would be unbounded. */
export class TelemetryMetrics {
  readonly entries: Counter;
  readonly streamsOpened: Counter;
  readonly openStreams: Gauge;
  readonly decodeErrors: Counter;
  readonly sinkErrors: Counter;
  readonly rejectedStreams: Counter;

  constructor(readonly registry: Registry = new Registry()) {
    this.entries = new Counter({ name: "bulwark_telemetry_entries_total", help: "Access-log entries received from sidecars and handed to the sinks.", registers: [registry] });
    this.streamsOpened = new Counter({ name: "bulwark_telemetry_streams_total", help: "Access-log streams sidecars opened.", registers: [registry] });
    this.openStreams = new Gauge({
      name: "bulwark_telemetry_streams",
      help: "Access-log streams open now (about one per sidecar and Envoy worker thread).",
      registers: [registry],
    });
    this.decodeErrors = new Counter({
      name: "bulwark_telemetry_decode_errors_total",
      help: "Messages or entries that could not be read (not protobuf, too large, not a telemetry log); a stream whose message cannot be read is ended.",
      registers: [registry],
    });
    this.sinkErrors = new Counter({ name: "bulwark_telemetry_sink_errors_total", help: "Batches a sink failed on (the other sinks and the stream go on).", registers: [registry] });
    this.rejectedStreams = new Counter({
      name: "bulwark_telemetry_rejected_streams_total",
      help: "Access-log streams and connections refused before any entry was read: no token, a token the API server refuses, of another audience or not bound to a pod, a node id not the token's pod, a workload outside the pod's namespace, TokenReview unavailable, a failed TLS handshake.",
      labelNames: ["reason"],
      registers: [registry],
    });
  }
}
