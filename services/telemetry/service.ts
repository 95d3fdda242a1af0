import type { Server } from "node:http";
import type { Logger } from "pino";
import { collectDefaultMetrics, Counter, type Registry } from "prom-client";
import type { ServiceAddress } from "../../contract/ir.js";
import type { TelemetrySink } from "../../contract/telemetry.js";
import { startHttpServer } from "../../operator/kube/http-server.js";
import { TelemetryMetrics } from "./metrics.js";
import { TelemetryReceiver, type TelemetryReceiverOptions } from "./receiver.js";

/**
 * `bulwark telemetry` as a library: the receiver, its metrics server and the sinks it feeds. The
 * inventory and the signal detectors join as sinks: `startTelemetryService(options, [inventory.sink, signals.sink])`.
 */

export interface TelemetryServiceOptions {
  /** Where sidecars stream (AccessLogService gRPC). */
  listen: ServiceAddress;
  /** /livez, /readyz and /metrics; absent: no HTTP server. */
  metrics?: ServiceAddress;
  log: Logger;
  /** One JSON log line per entry (for a SIEM, or to watch the stream). */
  logEntries?: boolean;
  /** Where the service's metrics go, with those of its sinks (absent: a registry of its own). */
  registry?: Registry;
  /** Whether it is ready (absent: as soon as it listens). */
  ready?: () => boolean;
  /** Each stream authenticated as a pod and bound to it (receiver.ts); absent: streams are believed. */
  authentication?: TelemetryReceiverOptions["authentication"];
  /** Serve the receiver over TLS with this certificate and key; absent: plaintext. */
  tls?: TelemetryReceiverOptions["tls"];
}

export interface TelemetryService {
  receiver: TelemetryReceiver;
  grpcPort: number;
  httpPort?: number;
  stop(): Promise<void>;
}

/** A sink that counts entries by response class (2xx, 3xx, 4xx, 5xx, 0 for no response): a bounded metric. */
export function statusClassSink(metrics: TelemetryMetrics): TelemetrySink {
  const counter = new Counter({
    name: "bulwark_telemetry_responses_total",
    help: "Requests reported by sidecars, by response class (2xx, 3xx, 4xx, 5xx; 0: no response).",
    labelNames: ["class"],
    registers: [metrics.registry],
  });
  const series = new Map<string, { inc(n: number): void }>();
  return (entries) => {
    const counts = new Map<string, number>();
    for (const e of entries) {
      const key = e.status >= 100 && e.status < 600 ? `${Math.floor(e.status / 100)}xx` : "0";
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    for (const [key, n] of counts) {
      let s = series.get(key);
      if (!s) series.set(key, (s = counter.labels({ class: key })));
      s.inc(n);
    }
  };
}

/** A sink that writes each entry as one JSON line (`msg: "telemetry entry"`). */
export function logLineSink(log: Logger): TelemetrySink {
  return (entries) => {
    for (const entry of entries) log.info({ entry }, "telemetry entry");
  };
}

function inUse(error: unknown, what: string, address: ServiceAddress): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === "EADDRINUSE" || /port is in use/.test(String(error)))
    return new Error(`${what} could not listen on ${address.host}:${address.port}: the port is in use (choose another)`);
  return error;
}

/** Starts the receiver (and the metrics server) feeding `sinks` plus the service's own; resolves once both listen. */
export async function startTelemetryService(options: TelemetryServiceOptions, sinks: readonly TelemetrySink[]): Promise<TelemetryService> {
  const metrics = new TelemetryMetrics(options.registry);
  collectDefaultMetrics({ register: metrics.registry });
  const own = [statusClassSink(metrics), ...(options.logEntries ? [logLineSink(options.log)] : [])];
  const receiver = new TelemetryReceiver({
    sinks: [...own, ...sinks],
    log: options.log,
    metrics,
    ...(options.authentication ? { authentication: options.authentication } : {}),
    ...(options.tls ? { tls: options.tls } : {}),
  });
  let grpcPort: number;
  try {
    grpcPort = await receiver.start(options.listen.host, options.listen.port);
  } catch (error) {
    throw inUse(error, "the telemetry receiver (--listen)", options.listen);
  }
  let http: Server | undefined;
  if (options.metrics) {
    try {
      http = await startHttpServer({ ...options.metrics, registry: metrics.registry, checks: { live: () => true, ready: options.ready ?? ((): boolean => true) } });
    } catch (error) {
      await receiver.stop();
      throw inUse(error, "the metrics server (--metrics)", options.metrics);
    }
  }
  const address = http?.address();
  return {
    receiver,
    grpcPort,
    ...(address && typeof address === "object" ? { httpPort: address.port } : {}),
    stop: async () => {
      await receiver.stop();
      if (http) await new Promise((resolve) => http.close(resolve));
    },
  };
}
