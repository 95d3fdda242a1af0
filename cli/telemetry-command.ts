import { parseArgs } from "node:util";
import { componentLogger } from "./logger.js";
import { untilSignal } from "./until-signal.js";
import { parseAddress, UsageError } from "./usage.js";
import { startTelemetryService } from "../services/telemetry/service.js";

export const telemetryHelp = `usage: bulwark telemetry [flags]

Serves envoy.service.accesslog.v3.AccessLogService: the sidecars of policies with spec.telemetry
stream every finished request here (the controller's --telemetry-address points them at it).
Sidecars buffer entries and send them about once a second, off the request path; while this
service is away they drop them. Each entry (route, method, path, status, refusal reason,
subject, device, app version, platform, client address, latency, bytes) is counted in
bulwark_telemetry_responses_total and, with --log-entries, written as one JSON line.

flags (environment variable in brackets):
  --listen HOST:PORT         where sidecars stream [BULWARK_TELEMETRY_LISTEN] (default 0.0.0.0:8091)
  --metrics HOST:PORT        /livez, /readyz and /metrics [BULWARK_TELEMETRY_METRICS] (default 0.0.0.0:8092)
  --log-entries              one JSON log line per entry [BULWARK_TELEMETRY_LOG_ENTRIES=true]
  --log-level LEVEL          trace, debug, info, warn, error [BULWARK_LOG_LEVEL] (default info)
  -h, --help                 this text
`;

function flag(values: Record<string, unknown>, name: string, env: string, fallback: string): string {
  const v = values[name];
  return typeof v === "string" ? v : (process.env[env] ?? fallback);
}

/** Runs bulwark telemetry until SIGTERM or SIGINT; resolves with the exit code. */
export async function runTelemetry(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      listen: { type: "string" },
      metrics: { type: "string" },
      "log-entries": { type: "boolean" },
      "log-level": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(telemetryHelp);
    return 0;
  }
  const levels = ["trace", "debug", "info", "warn", "error"];
  const level = flag(values, "log-level", "BULWARK_LOG_LEVEL", "info");
  if (!levels.includes(level)) throw new UsageError(`--log-level ${level} is not one of ${levels.join(", ")}`);
  const log = componentLogger("telemetry", level);
  const listen = parseAddress(flag(values, "listen", "BULWARK_TELEMETRY_LISTEN", "0.0.0.0:8091"), "--listen");
  const metrics = parseAddress(flag(values, "metrics", "BULWARK_TELEMETRY_METRICS", "0.0.0.0:8092"), "--metrics");
  const logEntries = values["log-entries"] === true || process.env.BULWARK_TELEMETRY_LOG_ENTRIES === "true";
  const service = await startTelemetryService({ listen, metrics, log, logEntries }, []);
  log.info({ grpc: `${listen.host}:${service.grpcPort}`, http: `${metrics.host}:${service.httpPort ?? metrics.port}`, logEntries }, "telemetry started");
  return untilSignal(log, () => service.stop());
}
