/**
 * The endpoints each workload is called on, learned from telemetry entries: per (method, path
 * template) the count, status mix, authenticated count, top app versions, the routes that
 * served it and first/last seen. Pure and bounded: at most `maxWorkloads` workloads and
 * `maxEndpoints` endpoints each (what does not fit is counted in `dropped`), bounded learners
 * and top-k lists. toJSON/fromJSON carry it across restarts (the service keeps it in Redis).
 */
import type { TelemetryEntry } from "../../../contract/telemetry.js";
import { compareStrings } from "../../../common/order.js";
import { compileTemplate, findDeclared, type CompiledTemplate } from "./declared-template.js";
import { PathLearner, defaultLearnerOptions, type LearnerNodeJSON, type PathLearnerOptions } from "./path-learner.js";
import { addCount, countsFromJSON, countsToJSON, mergeCounts, topKeys, type Counts } from "./top-k.js";

export interface EndpointTableOptions {
  maxWorkloads: number;
  maxEndpoints: number;
  /** Endpoints over all workloads: the memory bound (about 1.4 KiB each with full top-k lists). */
  maxTotalEndpoints: number;
  /** App versions kept per endpoint (top-k). */
  maxAppVersions: number;
  /** Route names kept per endpoint. */
  maxRoutes: number;
  learner: PathLearnerOptions;
}

export const defaultTableOptions: EndpointTableOptions = {
  maxWorkloads: 256,
  maxEndpoints: 1000,
  maxTotalEndpoints: 50_000,
  maxAppVersions: 10,
  maxRoutes: 4,
  learner: defaultLearnerOptions,
};

/** One endpoint as observed (before it is compared with what is declared). */
export interface ObservedEndpoint {
  method: string;
  path: string;
  /** The path is a declared template (policy rule or OpenAPI), not a learned one. */
  declared: boolean;
  count: number;
  statuses: Record<string, number>;
  authenticated: number;
  /** Most frequent first. */
  appVersions: string[];
  /** IR route names that served it, most frequent first ("" when no route matched). */
  routes: string[];
  firstSeenMs: number;
  lastSeenMs: number;
}

export interface ObservedWorkload {
  workload: string;
  policy: { namespace: string; name: string };
  /** Sorted by path, then method. */
  endpoints: ObservedEndpoint[];
  observed: number;
  dropped: number;
}

interface Stats {
  method: string;
  path: string;
  declared: boolean;
  count: number;
  statuses: Map<string, number>;
  authenticated: number;
  appVersions: Counts;
  routes: Counts;
  firstSeenMs: number;
  lastSeenMs: number;
}

interface Workload {
  workload: string;
  policy: { namespace: string; name: string };
  learner: PathLearner;
  learnedGeneration: number;
  declared: CompiledTemplate[];
  caseSensitive: boolean;
  endpoints: Map<string, Stats>;
  observed: number;
  dropped: number;
}

const knownMethods = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"]);

/** Methods outside RFC 9110's set count as OTHER: a client cannot grow the table with made-up verbs. */
export function inventoryMethod(method: string): string {
  const upper = method.toUpperCase();
  return knownMethods.has(upper) ? upper : "OTHER";
}

export function statusClass(status: number): string {
  return status >= 100 && status < 600 ? `${Math.floor(status / 100)}xx` : "0";
}

/** The policy a workload's IR name belongs to: `apisecuritypolicy/<ns>/<name>/...`. */
export function policyOfWorkload(workload: string): { namespace: string; name: string } | undefined {
  const [kind, namespace, name] = workload.split("/");
  return kind === "apisecuritypolicy" && namespace && name ? { namespace, name } : undefined;
}

const key = (method: string, path: string): string => `${method} ${path}`;

/** App versions are what clients send: kept to this length (the APIInventory CRD's limit). */
export const MAX_APP_VERSION_LENGTH = 64;

export class EndpointTable {
  private readonly workloads = new Map<string, Workload>();
  /** Entries of workloads that did not fit (or belong to no policy). */
  private droppedEntries = 0;
  private totalEndpoints = 0;
  private endpointsCreated = 0;

  constructor(private readonly options: EndpointTableOptions = defaultTableOptions) {}

  /** Endpoints created by traffic so far (only grows): a change says an endpoint was called for the first time. */
  get created(): number {
    return this.endpointsCreated;
  }

  get dropped(): number {
    return this.droppedEntries;
  }

  get workloadCount(): number {
    return this.workloads.size;
  }

  /**
   * The templates the workload declares (policy rules' exact paths and templates, OpenAPI
   * paths): a path under one is counted as that template, never learned.
   */
  declare(workload: string, templates: readonly string[], caseSensitive = false): void {
    const w = this.workload(workload);
    if (!w) return;
    w.declared = templates.map((t) => compileTemplate(t, caseSensitive));
    w.caseSensitive = caseSensitive;
    this.rekey(w);
  }

  observe(entry: TelemetryEntry): void {
    const w = this.workload(entry.workload);
    if (!w) {
      this.droppedEntries++;
      return;
    }
    w.observed++;
    const declared = findDeclared(entry.path, w.declared, w.caseSensitive);
    const path = declared?.template ?? w.learner.learn(entry.path);
    if (w.learner.generation !== w.learnedGeneration) this.rekey(w);
    const method = inventoryMethod(entry.method);
    let stats = w.endpoints.get(key(method, path));
    if (!stats) {
      if (w.endpoints.size >= this.options.maxEndpoints || this.totalEndpoints >= this.options.maxTotalEndpoints) {
        w.dropped++;
        return;
      }
      stats = emptyStats(method, path, declared !== undefined, entry.timeMs);
      w.endpoints.set(key(method, path), stats);
      this.totalEndpoints++;
      this.endpointsCreated++;
    }
    this.count(stats, entry);
  }

  private count(stats: Stats, entry: TelemetryEntry): void {
    stats.count++;
    const cls = statusClass(entry.status);
    stats.statuses.set(cls, (stats.statuses.get(cls) ?? 0) + 1);
    if (entry.authenticated) stats.authenticated++;
    if (entry.appVersion) addCount(stats.appVersions, entry.appVersion.slice(0, MAX_APP_VERSION_LENGTH), this.options.maxAppVersions * 2);
    addCount(stats.routes, entry.route, this.options.maxRoutes);
    stats.firstSeenMs = Math.min(stats.firstSeenMs, entry.timeMs);
    stats.lastSeenMs = Math.max(stats.lastSeenMs, entry.timeMs);
  }

  private workload(name: string): Workload | undefined {
    const existing = this.workloads.get(name);
    if (existing) return existing;
    const policy = policyOfWorkload(name);
    if (!policy || this.workloads.size >= this.options.maxWorkloads) return undefined;
    const w: Workload = {
      workload: name,
      policy,
      learner: new PathLearner(this.options.learner),
      learnedGeneration: 0,
      declared: [],
      caseSensitive: false,
      endpoints: new Map(),
      observed: 0,
      dropped: 0,
    };
    this.workloads.set(name, w);
    return w;
  }

  /** A position collapsed: learned templates counted before may now be one; merge them. */
  private rekey(w: Workload): void {
    w.learnedGeneration = w.learner.generation;
    const merged = new Map<string, Stats>();
    for (const stats of w.endpoints.values()) {
      // Learned templates follow the learner's collapses, and fall under a template declared since.
      const declared = stats.declared ? undefined : findDeclared(stats.path, w.declared, w.caseSensitive);
      const path = stats.declared ? stats.path : (declared?.template ?? w.learner.resolve(stats.path));
      const k = key(stats.method, path);
      const into = merged.get(k);
      if (into) this.mergeStats(into, stats);
      else merged.set(k, { ...stats, path, declared: stats.declared || declared !== undefined });
    }
    this.totalEndpoints += merged.size - w.endpoints.size;
    w.endpoints = merged;
  }

  private mergeStats(into: Stats, from: Stats): void {
    into.count += from.count;
    for (const [cls, n] of from.statuses) into.statuses.set(cls, (into.statuses.get(cls) ?? 0) + n);
    into.authenticated += from.authenticated;
    mergeCounts(into.appVersions, from.appVersions, this.options.maxAppVersions * 2);
    mergeCounts(into.routes, from.routes, this.options.maxRoutes);
    into.firstSeenMs = Math.min(into.firstSeenMs, from.firstSeenMs);
    into.lastSeenMs = Math.max(into.lastSeenMs, from.lastSeenMs);
  }

  /** Every workload's endpoints, sorted by workload, then path, then method. */
  snapshot(): ObservedWorkload[] {
    return [...this.workloads.values()]
      .sort((a, b) => compareStrings(a.workload, b.workload))
      .map((w) => ({
        workload: w.workload,
        policy: { ...w.policy },
        endpoints: [...w.endpoints.values()].map((s) => this.observedEndpoint(s)).sort((a, b) => compareStrings(a.path, b.path) || compareStrings(a.method, b.method)),
        observed: w.observed,
        dropped: w.dropped,
      }));
  }

  private observedEndpoint(s: Stats): ObservedEndpoint {
    return {
      method: s.method,
      path: s.path,
      declared: s.declared,
      count: s.count,
      statuses: Object.fromEntries([...s.statuses].sort(([a], [b]) => compareStrings(a, b))),
      authenticated: s.authenticated,
      appVersions: topKeys(s.appVersions, this.options.maxAppVersions),
      routes: topKeys(s.routes, this.options.maxRoutes),
      firstSeenMs: s.firstSeenMs,
      lastSeenMs: s.lastSeenMs,
    };
  }

  toJSON(): EndpointTableJSON {
    return {
      version: 1,
      droppedEntries: this.droppedEntries,
      workloads: [...this.workloads.values()].map((w) => ({
        workload: w.workload,
        observed: w.observed,
        dropped: w.dropped,
        learner: w.learner.toJSON(),
        endpoints: [...w.endpoints.values()].map((s) => ({
          method: s.method,
          path: s.path,
          declared: s.declared,
          count: s.count,
          statuses: [...s.statuses],
          authenticated: s.authenticated,
          appVersions: countsToJSON(s.appVersions),
          routes: countsToJSON(s.routes),
          firstSeenMs: s.firstSeenMs,
          lastSeenMs: s.lastSeenMs,
        })),
      })),
    };
  }

  /** Rebuilds a table from toJSON's output, within this table's caps. Declared templates are not stored: declare them again. */
  static fromJSON(json: EndpointTableJSON, options: EndpointTableOptions = defaultTableOptions): EndpointTable {
    const table = new EndpointTable(options);
    table.droppedEntries = json.droppedEntries;
    for (const stored of json.workloads) {
      const w = table.workload(stored.workload);
      if (!w) continue;
      w.learner = PathLearner.fromJSON(stored.learner, options.learner);
      w.learnedGeneration = w.learner.generation;
      w.observed = stored.observed;
      w.dropped = stored.dropped;
      for (const e of stored.endpoints.slice(0, options.maxEndpoints)) {
        if (table.totalEndpoints >= options.maxTotalEndpoints) break;
        table.totalEndpoints++;
        w.endpoints.set(key(e.method, e.path), {
          ...e,
          statuses: new Map(e.statuses),
          appVersions: countsFromJSON(e.appVersions, options.maxAppVersions * 2),
          routes: countsFromJSON(e.routes, options.maxRoutes),
        });
      }
    }
    return table;
  }
}

function emptyStats(method: string, path: string, declared: boolean, timeMs: number): Stats {
  return { method, path, declared, count: 0, statuses: new Map(), authenticated: 0, appVersions: new Map(), routes: new Map(), firstSeenMs: timeMs, lastSeenMs: timeMs };
}

export interface EndpointTableJSON {
  version: 1;
  droppedEntries: number;
  workloads: {
    workload: string;
    observed: number;
    dropped: number;
    learner: LearnerNodeJSON;
    endpoints: {
      method: string;
      path: string;
      declared: boolean;
      count: number;
      statuses: [string, number][];
      authenticated: number;
      appVersions: [string, number][];
      routes: [string, number][];
      firstSeenMs: number;
      lastSeenMs: number;
    }[];
  }[];
}
