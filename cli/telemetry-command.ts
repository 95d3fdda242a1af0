import { parseArgs } from "node:util";
import { componentLogger } from "./logger.js";
import { untilSignal } from "./until-signal.js";
import { parseAddress, UsageError } from "./usage.js";
import { Registry } from "prom-client";
import { describeTarget, redisTarget, RedisTargetError } from "../common/redis-target.js";
import { parseDuration } from "../operator/identity/rotation.js";
import { startTelemetryService } from "../services/telemetry/service.js";
import { startTelemetryAnalysis } from "./telemetry-analysis.js";
import { TELEMETRY_TOKEN_AUDIENCE } from "../contract/telemetry.js";
import { streamSecurity } from "./telemetry-stream-security.js";

export const telemetryHelp = `usage: bulwark telemetry [flags]

Serves envoy.service.accesslog.v3.AccessLogService: the sidecars of policies with spec.telemetry
stream every finished request here (the controller's --telemetry-address points them at it).
Sidecars buffer entries and send them about once a second, off the request path; while this
service is away they drop them. Each entry (route, method, path, status, refusal reason,
subject, device, app version, platform, client address, latency, bytes) is counted in
bulwark_telemetry_responses_total and, with --log-entries, written as one JSON line.

Every entry also feeds the API inventory (endpoints learned from traffic, compared with the
policies' rules and OpenAPI documents: docs/api-inventory.md) and the abuse signals
(docs/signals.md). Signals are counted (bulwark_signals_fired_total) and logged as JSON lines
("event":"bulwark_abuse_signal"); with --cluster they also become Warning Events on the policy,
the inventory is written as the policy's APIInventory and summed up in its status.traffic, and
the policy's spec.adaptiveResponse acts on them through Redis (bulwark authz enforces).

flags (environment variable in brackets):
  --listen HOST:PORT         where sidecars stream [BULWARK_TELEMETRY_LISTEN] (default 0.0.0.0:8091)
  --tls-cert FILE            the serving certificate (PEM, with its chain) sidecars verify [BULWARK_TELEMETRY_TLS_CERT]
  --tls-key FILE             its private key (PEM) [BULWARK_TELEMETRY_TLS_KEY]
                             Both, or --tls-secret, are required with --cluster (read at start; restart to rotate)
  --tls-secret NAME          instead of the files: a Secret (in POD_NAMESPACE, default bulwark-system) this
                             service keeps itself, created with a new CA when missing and renewed at start when
                             a third of its year is left; its ca.crt goes to the controller's --telemetry-ca-file
                             [BULWARK_TELEMETRY_TLS_SECRET] (needs --cluster)
  --tls-dns-names NAMES      comma-separated names the certificate carries (this Service's) [BULWARK_TELEMETRY_TLS_DNS_NAMES]
  --metrics HOST:PORT        /livez, /readyz and /metrics [BULWARK_TELEMETRY_METRICS] (default 0.0.0.0:8092)
  --log-entries              one JSON log line per entry [BULWARK_TELEMETRY_LOG_ENTRIES=true]
  --log-level LEVEL          trace, debug, info, warn, error [BULWARK_LOG_LEVEL] (default info)
  --cluster                  read the policies from the cluster and write APIInventory objects, status.traffic
                             and Events [BULWARK_TELEMETRY_CLUSTER=true]; without it signals are logged and
                             counted only, with every detector at its defaults
                             With --cluster every stream is authenticated: the sidecar presents a projected
                             ServiceAccount token of the audience ${TELEMETRY_TOKEN_AUDIENCE}, bound to its pod
                             (TokenReview: tokenreviews create), over TLS; its node id must be that pod's and
                             the workload it reports for in that pod's namespace. Refused streams deliver
                             nothing (bulwark_telemetry_rejected_streams_total{reason}).
                             Without --cluster streams are not authenticated: each is believed about which
                             sidecar it is and which workload it reports for, which only feeds logs and
                             metrics (no policy, so no adaptive action); listen where only sidecars reach it.
  --kubeconfig PATH          kubeconfig to use with --cluster [KUBECONFIG]; in-cluster configuration when unset
  --redis-url URL            the Redis of bulwark authz: adaptive actions go there, and the analysis is kept
                             there across restarts [BULWARK_REDIS_URL]
  --redis-cluster-nodes LIST a Redis Cluster instead: HOST:PORT,... [BULWARK_REDIS_CLUSTER_NODES]
  --report-interval D        how often inventories and status are written and the analysis saved
                             [BULWARK_TELEMETRY_REPORT_INTERVAL] (default 10s, at least 1s); also
                             within a second after an endpoint is first called
  -h, --help                 this text
`;

function flag(values: Record<string, unknown>, name: string, env: string, fallback: string): string {
  const v = values[name];
  return typeof v === "string" ? v : (process.env[env] ?? fallback);
}

const TELEMETRY_FLAGS = {
  listen: { type: "string" },
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
  "tls-secret": { type: "string" },
  "tls-dns-names": { type: "string" },
  metrics: { type: "string" },
  "log-entries": { type: "boolean" },
  "log-level": { type: "string" },
  cluster: { type: "boolean" },
  kubeconfig: { type: "string" },
  "redis-url": { type: "string" },
  "redis-cluster-nodes": { type: "string" },
  "report-interval": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** Runs bulwark telemetry until SIGTERM or SIGINT; resolves with the exit code. */
export async function runTelemetry(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: TELEMETRY_FLAGS, strict: true });
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
  const cluster = values.cluster === true || process.env.BULWARK_TELEMETRY_CLUSTER === "true";
  const intervalText = flag(values, "report-interval", "BULWARK_TELEMETRY_REPORT_INTERVAL", "10s");
  const reportIntervalMs = parseDuration(intervalText);
  if (reportIntervalMs === undefined || reportIntervalMs < 1000) throw new UsageError(`--report-interval ${intervalText} is not a duration of at least 1s (e.g. 10s, 1m)`);
  let redis;
  try {
    redis = redisTarget({ url: flag(values, "redis-url", "BULWARK_REDIS_URL", ""), clusterNodes: flag(values, "redis-cluster-nodes", "BULWARK_REDIS_CLUSTER_NODES", "") });
  } catch (error) {
    if (error instanceof RedisTargetError) throw new UsageError(error.message);
    throw error;
  }
  const security = await streamSecurity({
    tls: {
      certFile: flag(values, "tls-cert", "BULWARK_TELEMETRY_TLS_CERT", ""),
      keyFile: flag(values, "tls-key", "BULWARK_TELEMETRY_TLS_KEY", ""),
      secret: flag(values, "tls-secret", "BULWARK_TELEMETRY_TLS_SECRET", ""),
      dnsNames: flag(values, "tls-dns-names", "BULWARK_TELEMETRY_TLS_DNS_NAMES", ""),
    },
    cluster: cluster ? { kubeconfig: values.kubeconfig } : undefined,
    log,
  });
  const registry = new Registry();
  const analysis = await startTelemetryAnalysis({
    log,
    registry,
    reportIntervalMs,
    ...(cluster ? { cluster: { kubeconfig: values.kubeconfig } } : {}),
    ...(redis ? { redis } : {}),
  });
  let service;
  try {
    service = await startTelemetryService({ listen, metrics, log, logEntries, registry, ready: () => analysis.ready(), ...security }, [analysis.sink]);
  } catch (error) {
    await analysis.stop();
    throw error;
  }
  const running = service;
  log.info(
    {
      grpc: `${listen.host}:${running.grpcPort}`,
      tls: security.tls !== undefined,
      authenticated: security.authentication !== undefined,
      http: `${metrics.host}:${running.httpPort ?? metrics.port}`,
      logEntries,
      cluster,
      redis: describeTarget(redis),
    },
    "telemetry started",
  );
  if (!security.authentication)
    log.warn("telemetry streams are not authenticated (no --cluster): each is believed about its sidecar and workload; only logs and metrics come of them");
  return untilSignal(log, async () => {
    await running.stop();
    await analysis.stop();
  });
}
