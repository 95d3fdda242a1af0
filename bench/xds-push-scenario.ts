/** One configuration of the xDS push benchmark, and what it measured (plain data, sent between processes). */
import type { Percentiles } from "./stats.js";

export interface Scenario {
  /** Connected sidecars. */
  sidecars: number;
  /** Real Envoy processes, or the lightweight ADS clients of bench/ads-client.ts (in one separate process). */
  client: "envoy" | "ads-client";
  delta: boolean;
  /** Push rounds measured for latency (every sidecar's snapshot changes once per round). */
  rounds: number;
  /** Duration of the closed-loop throughput phase. */
  throughputMs: number;
  envoyBinary: string;
}

export interface ScenarioResult {
  scenario: Omit<Scenario, "envoyBinary">;
  /** From first connection to every sidecar acknowledging its whole snapshot. */
  connectMs: number;
  /** setSnapshot → the sidecar has acknowledged every changed type (EDS and RDS), per sidecar, in ms. */
  pushMs: Percentiles;
  /** From the first setSnapshot of a round to the last sidecar's ACK, in ms. */
  roundMs: Percentiles;
  /** Server process CPU time. */
  cpu: {
    /** Per sidecar, connecting and sending its initial snapshot (ms). */
    connectMsPerSidecar: number;
    /** Per sidecar update (setSnapshot to ACK, both types), in µs. */
    pushMicrosPerUpdate: number;
    /** Connected and idle: µs of CPU per sidecar per second. */
    idleMicrosPerSidecarSecond: number;
  };
  /** Server process memory growth, after a full GC, divided by the sidecar count. */
  memory: {
    /** The sidecars' snapshots held by the cache (before any connects). */
    snapshotRssBytesPerSidecar: number;
    /** The connections and ADS streams. */
    streamRssBytesPerSidecar: number;
    /** Both: what one more connected sidecar costs the server. */
    rssBytesPerSidecar: number;
    /** V8 heap + external (Buffers) growth per sidecar, snapshots and streams: less noisy than RSS. */
    heapBytesPerSidecar: number;
    serverRssBytes: number;
  };
  /** Closed loop: each sidecar gets its next snapshot as soon as it acknowledged the previous one. */
  throughput: { updatesPerSecond: number; updates: number; seconds: number; pushMs: Percentiles };
  /** 1-minute load average of the machine when the scenario started and ended (other work on it skews latency). */
  machineLoad: { start: number; end: number };
  /** The other side (not included above). */
  clients: { processes: number; rssBytes: number; cpuMs?: number };
}

export type ScenarioMessage = { kind: "result"; result: ScenarioResult } | { kind: "error"; message: string };
