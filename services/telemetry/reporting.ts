import type { Cluster, Redis } from "ioredis";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { SignalEvent, SignalKind, TelemetrySink } from "../../contract/telemetry.js";
import { errorMessage } from "../../common/errors.js";
import type { Translation } from "../../operator/translate/translate.js";
import { apiVersion, kind } from "../../operator/api/v1alpha1/policy.js";
import { applySignal, blockSummary } from "../adaptive/apply.js";
import type { AdaptiveStore } from "../adaptive/store.js";
import { TelemetryAnalysis } from "./analysis.js";
import { policyKeyOf, telemetryTranslation, type ReportedPolicy, type TelemetryTranslation } from "./analysis-config.js";
import { classCounts } from "./inventory/classify.js";
import { inventoryResource } from "./inventory/inventory-resource.js";
import { inventoryMetrics, type InventoryMetrics } from "./inventory/metrics.js";
import { readOpenApi } from "./inventory/openapi-document.js";
import type { DeclaredEndpoint } from "./inventory/declared-routes.js";
import { byPolicy, openApiSourceName } from "./inventory/pipeline.js";
import type { KubernetesReporter, TrafficStatus } from "./kubernetes-reporter.js";
import type { CountryOf } from "./signals/country.js";
import { logSignal, SignalMetrics, signalKubernetesEvent } from "./signals/output.js";
import { fetchOpenApi } from "./openapi-fetch.js";

/** Where the analysis is kept between restarts. */
export const ANALYSIS_STATE_KEY = "bulwark:telemetry:analysis";
/** At most one Event per policy and signal kind in this interval; the others are logged and counted. */
export const EVENT_INTERVAL_MS = 60_000;
/** How long an OpenAPI document is used before it is read again. */
const OPENAPI_REFRESH_MS = 60_000;
const HOUR_MS = 3_600_000;

interface OpenApiDocument {
  source: string;
  endpoints: DeclaredEndpoint[];
  errors: string[];
  readMs: number;
}

export interface TelemetryReportingOptions {
  log: Logger;
  registry: Registry;
  /** The API server; absent: signals are logged and counted only, and no inventory is written. */
  kubernetes?: Pick<KubernetesReporter, "policyUid" | "writeInventory" | "writeTraffic" | "signalEvent" | "configMapKey">;
  /** Where signals' actions go (spec.adaptiveResponse); absent: nobody is blocked. */
  adaptive?: AdaptiveStore;
  /** Where the analysis is kept across restarts; absent: it starts empty. */
  redis?: Redis | Cluster;
  countryOf?: CountryOf;
  now?: () => number;
}

/**
 * bulwark telemetry's conclusions, driven: every translation configures the analysis; every
 * signal is counted, logged as JSON, recorded as an Event on its policy (rate limited) and
 * handed to the policy's adaptive response; every `report()` writes each policy's APIInventory
 * and status.traffic and saves the analysis to Redis.
 */
export class TelemetryReporting {
  readonly analysis: TelemetryAnalysis;
  private config: TelemetryTranslation = { workloads: [], signalConfigs: new Map(), policies: new Map() };
  private readonly openApi = new Map<string, OpenApiDocument>();
  private readonly uids = new Map<string, string>();
  /** Per policy and kind: when signals fired in the last hour (bounded). */
  private readonly fired = new Map<string, Map<SignalKind, number[]>>();
  private readonly lastEvent = new Map<string, number>();
  private readonly lastTraffic = new Map<string, string>();
  private readonly signalMetrics: SignalMetrics;
  private readonly inventoryMetrics: InventoryMetrics;
  private readonly now: () => number;
  private readonly pending = new Set<Promise<unknown>>();

  constructor(private readonly options: TelemetryReportingOptions) {
    this.now = options.now ?? Date.now;
    this.analysis = new TelemetryAnalysis({ ...(options.countryOf ? { countryOf: options.countryOf } : {}), onSignal: (event) => this.onSignal(event) });
    this.signalMetrics = new SignalMetrics(options.registry, () => this.analysis.sizes().signals);
    this.inventoryMetrics = inventoryMetrics(options.registry);
  }

  get sink(): TelemetrySink {
    return this.analysis.sink;
  }

  /** A new translation (from the cluster's objects): what each workload declares, how it is tuned, what its policy does with signals. */
  configure(translation: Translation): void {
    this.config = telemetryTranslation(translation);
    this.applyConfig();
  }

  /** The policies reported on, by `<namespace>/<name>`. */
  policies(): ReadonlyMap<string, ReportedPolicy> {
    return this.config.policies;
  }

  private applyConfig(): void {
    const openapi = new Map<string, DeclaredEndpoint[]>();
    for (const [key, policy] of this.config.policies) {
      const document = this.openApi.get(key);
      if (policy.openApi && document?.source === openApiSourceName(policy.openApi)) openapi.set(key, document.endpoints);
    }
    this.analysis.configure({ workloads: this.config.workloads, signalConfigs: this.config.signalConfigs, openapi });
  }

  private onSignal(event: SignalEvent): void {
    this.signalMetrics.record(event);
    logSignal(this.options.log, event);
    const key = policyKeyOf(event.policy);
    const kinds = this.fired.get(key) ?? new Map<SignalKind, number[]>();
    this.fired.set(key, kinds);
    const times = kinds.get(event.kind) ?? [];
    times.push(event.timeMs);
    if (times.length > 1000) times.splice(0, times.length - 1000);
    kinds.set(event.kind, times);
    const now = this.now();
    const eventKey = `${key}/${event.kind}`;
    const kube = this.options.kubernetes;
    if (kube && now - (this.lastEvent.get(eventKey) ?? -Infinity) >= EVENT_INTERVAL_MS) {
      this.lastEvent.set(eventKey, now);
      this.track(kube.signalEvent(event.policy.namespace, event.policy.name, this.uids.get(key), signalKubernetesEvent(event)));
    }
    const policy = this.config.policies.get(key);
    const adaptive = this.options.adaptive;
    if (adaptive && policy && policy.adaptiveRules.length > 0) {
      this.track(
        applySignal(adaptive, event, policy.adaptiveRules, now).then(
          (actions) => {
            for (const a of actions)
              this.options.log.warn(
                {
                  event: "bulwark_adaptive_action",
                  policy: key,
                  identity_kind: a.identity.kind,
                  identity: a.identity.value,
                  action: a.action,
                  mode: a.mode,
                  signal: a.signal,
                  expires: new Date(a.expiresMs).toISOString(),
                },
                `${a.mode === "Shadow" ? "would " : ""}${a.action.toLowerCase()} ${a.identity.kind} ${a.identity.value} (${a.signal})`,
              );
          },
          (error: unknown) => this.options.log.error({ policy: key, signal: event.kind, err: errorMessage(error) }, "cannot record the adaptive action of a signal"),
        ),
      );
    }
  }

  private track(promise: Promise<unknown>): void {
    this.pending.add(promise);
    void promise.finally(() => this.pending.delete(promise));
  }

  /** Waits for the Events and actions already started (tests, and stopping). */
  async settle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /** Lets time pass without traffic. */
  tick(): void {
    this.analysis.tick(this.now());
  }

  /** Restores the analysis another process saved; says what could not be restored. */
  async restore(): Promise<void> {
    const redis = this.options.redis;
    if (!redis) return;
    const started = this.now();
    try {
      const text = await redis.get(ANALYSIS_STATE_KEY);
      if (text === null) return;
      const problems = this.analysis.restore(text);
      this.options.log.info({ bytes: text.length, ms: this.now() - started, problems }, "restored the telemetry analysis from Redis");
    } catch (error) {
      this.options.log.warn({ err: errorMessage(error) }, "cannot read the saved telemetry analysis; it starts empty");
    }
  }

  /** Reads the OpenAPI documents due, writes every policy's APIInventory and status.traffic, saves the analysis. */
  async report(): Promise<void> {
    await this.readOpenApiDocuments();
    const inventories = this.analysis.inventories();
    this.inventoryMetrics.record(inventories);
    const groups = byPolicy(inventories);
    const now = this.now();
    const updated = new Date(now).toISOString();
    const kube = this.options.kubernetes;
    for (const [key, policy] of this.config.policies) {
      const own = groups.get(key) ?? [];
      if (kube) {
        const uid = this.uids.get(key) ?? (await kube.policyUid(policy.namespace, policy.name));
        if (!uid) continue; // deleted meanwhile: its inventory goes with it
        this.uids.set(key, uid);
        const document = policy.openApi ? this.openApi.get(key) : undefined;
        const object = inventoryResource(
          own,
          { apiVersion, kind, metadata: { name: policy.name, namespace: policy.namespace, uid, generation: policy.generation } },
          { updatedAt: updated, ...(document ? { openAPI: { source: document.source, errors: document.errors } } : {}) },
        );
        await kube.writeInventory(object);
        const traffic = await this.traffic(key, policy, own, now);
        const unchanged = JSON.stringify(traffic);
        if (this.lastTraffic.get(key) !== unchanged && (await kube.writeTraffic(policy.namespace, policy.name, { ...traffic, updated }))) this.lastTraffic.set(key, unchanged);
      }
    }
    await this.save();
  }

  private async traffic(key: string, policy: ReportedPolicy, own: Parameters<typeof classCounts>[0], now: number): Promise<Omit<TrafficStatus, "updated">> {
    let summary = { blocked: 0, throttled: 0, shadow: 0 };
    if (this.options.adaptive && policy.adaptiveRules.length > 0) {
      try {
        summary = blockSummary(await this.options.adaptive.list({ namespace: policy.namespace, name: policy.name }, now), policy.adaptiveRules);
      } catch (error) {
        this.options.log.warn({ policy: key, err: errorMessage(error) }, "cannot list the adaptive actions");
      }
    }
    const signals = [...(this.fired.get(key) ?? new Map<SignalKind, number[]>())]
      .map(([kind, times]) => ({ kind, recent: times.filter((t) => t > now - HOUR_MS) }))
      .filter((s) => s.recent.length > 0)
      .sort((a, b) => (a.kind < b.kind ? -1 : 1))
      .map((s) => ({ kind: s.kind, count: s.recent.length, lastSeen: new Date(Math.max(...s.recent)).toISOString() }));
    return { ...classCounts(own), blocked: summary.blocked + summary.throttled, shadowActions: summary.shadow, ...(signals.length > 0 ? { signals } : {}) };
  }

  private async readOpenApiDocuments(): Promise<void> {
    let changed = false;
    const now = this.now();
    for (const [key, policy] of this.config.policies) {
      if (!policy.openApi) continue;
      const source = openApiSourceName(policy.openApi);
      const known = this.openApi.get(key);
      if (known?.source === source && now - known.readMs < OPENAPI_REFRESH_MS) continue;
      const text = policy.openApi.configMap
        ? this.options.kubernetes
          ? await this.options.kubernetes.configMapKey(policy.namespace, policy.openApi.configMap.name, policy.openApi.configMap.key)
          : { error: "no API server to read the ConfigMap from" }
        : await fetchOpenApi(policy.openApi.url ?? "");
      const read = "text" in text ? readOpenApi(text.text) : { endpoints: known?.source === source ? known.endpoints : [], errors: [text.error] };
      this.openApi.set(key, { source, endpoints: read.endpoints, errors: read.errors, readMs: now });
      changed = true;
    }
    if (changed) this.applyConfig();
  }

  private async save(): Promise<void> {
    const redis = this.options.redis;
    if (!redis) return;
    try {
      await redis.set(ANALYSIS_STATE_KEY, JSON.stringify(this.analysis.state()));
    } catch (error) {
      this.options.log.warn({ err: errorMessage(error) }, "cannot save the telemetry analysis to Redis");
    }
  }
}
