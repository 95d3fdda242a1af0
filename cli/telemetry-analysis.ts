import type { Cluster, Redis } from "ioredis";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { TelemetrySink } from "../contract/telemetry.js";
import type { RedisTarget } from "../common/redis-target.js";
import { errorMessage } from "../common/errors.js";
import type { TranslationSource } from "../operator/translate/source.js";
import { RedisAdaptiveStore } from "../services/adaptive/redis-store.js";
import { ReportSchedule } from "../services/telemetry/report-schedule.js";
import { TelemetryReporting } from "../services/telemetry/reporting.js";
import { dbipCountryOf } from "../services/telemetry/signals/country.js";
import { adaptiveClient } from "./adaptive-target.js";

export interface TelemetryAnalysisOptions {
  log: Logger;
  registry: Registry;
  /** Read policies from this cluster and write to it (the --kubeconfig flag's value, else KUBECONFIG, else in-cluster); undefined: no cluster. */
  cluster?: { kubeconfig: unknown };
  redis?: RedisTarget;
  reportIntervalMs: number;
}

export interface RunningAnalysis {
  sink: TelemetrySink;
  /** Ready once the policies were listed (at once without a cluster). */
  ready(): boolean;
  stop(): Promise<void>;
}

/** How often the failure-rate baselines close their buckets when no traffic arrives. */
const TICK_MS = 5000;

/**
 * The analysis side of bulwark telemetry, wired: the policies from the cluster (the same
 * translation the controller runs; no Secrets watched), the analysis restored from Redis, the
 * reports written on a timer (and soon after an endpoint's first call), adaptive actions through Redis.
 */
export async function startTelemetryAnalysis(options: TelemetryAnalysisOptions): Promise<RunningAnalysis> {
  const { log } = options;
  const clients: (Redis | Cluster)[] = [];
  const client = (failFast: boolean): Redis | Cluster => {
    const c = adaptiveClient(options.redis as RedisTarget, log, { failFast });
    clients.push(c);
    return c;
  };
  // The Kubernetes client is loaded only with --cluster (cli/module-graph.test.ts keeps it so).
  const kube = options.cluster
    ? {
        kc: (await import("./cluster-config.js")).loadClusterConfig(options.cluster.kubeconfig),
        Reporter: (await import("../services/telemetry/kubernetes-reporter.js")).KubernetesReporter,
        Source: (await import("../operator/translate/source.js")).TranslationSource,
      }
    : undefined;
  const kc = kube?.kc;
  const reporting = new TelemetryReporting({
    log,
    registry: options.registry,
    ...(kube ? { kubernetes: new kube.Reporter(kube.kc, log) } : {}),
    // Saving the analysis may take a while (MiB of JSON): that client waits; the actions' fails fast.
    ...(options.redis ? { adaptive: new RedisAdaptiveStore(client(true)), redis: client(false) } : {}),
    countryOf: dbipCountryOf(),
  });
  await reporting.restore();
  let synced = !kc;
  const source: TranslationSource | undefined = kube
    ? new kube.Source({
        kc: kube.kc,
        log,
        kinds: ["policies", "services", "pods"],
        requireSync: true,
        what: "the previous policies",
        apply: (translation) => {
          reporting.configure(translation);
          synced = true;
        },
      })
    : undefined;
  if (source) {
    // An API server that is down leaves the receiver up and not ready; the watches retry.
    source.start().catch((error: unknown) => log.warn({ err: errorMessage(error) }, "cannot list the policies yet; telemetry is not ready"));
  }
  const tick = setInterval(() => reporting.tick(), TICK_MS);
  const schedule = new ReportSchedule({ reports: reporting, intervalMs: options.reportIntervalMs, ready: () => synced, log });
  schedule.start();
  return {
    sink: reporting.sink,
    ready: () => synced,
    stop: async () => {
      clearInterval(tick);
      await schedule.stop();
      if (synced) await reporting.report();
      await reporting.settle();
      await source?.stop();
      for (const c of clients) c.disconnect();
    },
  };
}
