import type { SignalEvent, TelemetrySink, WorkloadInventory } from "../../contract/telemetry.js";
import { EndpointTable } from "./inventory/endpoint-table.js";
import { classifyAll, declareWorkloads, type InventoryWorkload, type OpenApiByPolicy } from "./inventory/pipeline.js";
import { parseStoredTable } from "./inventory/stored-table.js";
import type { SignalConfig } from "./signals/config.js";
import type { CountryOf } from "./signals/country.js";
import { SignalEngine } from "./signals/engine.js";

/** What the analysis knows of the installation: the governed workloads and, per workload, what its detectors need. */
export interface AnalysisConfig {
  /** Governed workloads from the IR (name, routes, policy). */
  workloads: readonly InventoryWorkload[];
  /** The detectors' view of each workload, by workload name. */
  signalConfigs: ReadonlyMap<string, SignalConfig>;
  /** OpenAPI operations by policy (`<namespace>/<name>`), for the policies whose document could be read. */
  openapi: OpenApiByPolicy;
}

/** What the analysis keeps across a restart of the service (stored as JSON in Redis). */
export interface AnalysisState {
  version: 1;
  inventory: unknown;
  signals: unknown;
}

const EMPTY_CONFIG: AnalysisConfig = { workloads: [], signalConfigs: new Map(), openapi: new Map() };

/**
 * The receiver's analysis, in one process: every entry goes to the endpoint table (the API
 * inventory) and to the signal engine (abuse detectors). Pure apart from the callbacks: no clock
 * (time comes from the entries), no I/O; the service around it persists its state, writes the
 * inventory and acts on signals.
 */
export class TelemetryAnalysis {
  private table = new EndpointTable();
  private readonly engine: SignalEngine;
  private config: AnalysisConfig = EMPTY_CONFIG;

  constructor(private readonly options: { countryOf?: CountryOf; onSignal: (event: SignalEvent) => void }) {
    this.engine = new SignalEngine({ configOf: (workload) => this.config.signalConfigs.get(workload), ...(options.countryOf ? { countryOf: options.countryOf } : {}) });
  }

  /** A new translation: what each workload declares and how its detectors are tuned. */
  configure(config: AnalysisConfig): void {
    this.config = config;
    declareWorkloads(this.table, config.workloads, config.openapi);
  }

  /** The analysis as a sink of the receiver. */
  readonly sink: TelemetrySink = (entries) => {
    for (const entry of entries) this.table.observe(entry);
    for (const event of this.engine.observe(entries)) this.options.onSignal(event);
  };

  /** Endpoints first called so far (only grows; see EndpointTable.created). */
  endpointsCreated(): number {
    return this.table.created;
  }

  /** Lets time pass without traffic (the failure-rate baselines close their buckets). */
  tick(nowMs: number): void {
    for (const event of this.engine.tick(nowMs)) this.options.onSignal(event);
  }

  /** Every governed workload classified against what it declares, sorted by workload. */
  inventories(): WorkloadInventory[] {
    return classifyAll(this.table.snapshot(), this.config.workloads, this.config.openapi);
  }

  /** Table sizes, for the bounds gauges. */
  sizes(): { inventoryWorkloads: number; inventoryDropped: number; signals: Record<string, Record<string, number>> } {
    return { inventoryWorkloads: this.table.workloadCount, inventoryDropped: this.table.dropped, signals: this.engine.sizes() };
  }

  state(): AnalysisState {
    return { version: 1, inventory: this.table.toJSON(), signals: this.engine.toJSON() };
  }

  /**
   * Restores a state `state()` gave (another process's, before a restart). Returns what could not
   * be restored; that part starts empty and is learned again from traffic.
   */
  restore(text: string): string[] {
    let state: Partial<AnalysisState>;
    try {
      state = JSON.parse(text) as Partial<AnalysisState>;
    } catch {
      return ["the stored analysis is not JSON"];
    }
    if (typeof state !== "object" || state === null || state.version !== 1) return ["the stored analysis is of another version"];
    const problems: string[] = [];
    const stored = parseStoredTable(JSON.stringify(state.inventory ?? null));
    if ("error" in stored) problems.push(`inventory: ${stored.error}`);
    else {
      this.table = EndpointTable.fromJSON(stored.table);
      declareWorkloads(this.table, this.config.workloads, this.config.openapi);
    }
    this.engine.restore(state.signals);
    return problems;
  }
}
