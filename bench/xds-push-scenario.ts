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
  /** Changes of one sidecar's snapshot, one at a time, before the rounds (latency when one sidecar is concerned). */
  singlePushes?: number;
  /** The simulated sidecar (ads-client only): bench/ads-wire-client.ts (default) or grpc-js's client (bench/ads-client.ts). */
  fleetClient?: "wire" | "grpc-js";
  /** Sidecars dialled per 5 ms (ads-client only; default 50). A connect storm dials them all at once. */
  dialBatch?: number;
}

export interface ScenarioResult {
  scenario: Omit<Scenario, "envoyBinary">;
  /** From first connection to every sidecar acknowledging its whole snapshot. */
  connectMs: number;
  /** setSnapshot → the sidecar has acknowledged every changed type (EDS and RDS), per sidecar, in ms. */
  pushMs: Percentiles;
  /** From the first setSnapshot of a round to the last sidecar's ACK, in ms. */
  roundMs: Percentiles;
  /** setSnapshot of ONE sidecar → its ACK, the others connected and idle (scenario.singlePushes samples). */
  singlePushMs?: Percentiles;
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
    /** The started server before any snapshot or connection (the base of the figures above). */
    idleServerRssBytes?: number;
  };
  /** Closed loop: each sidecar gets its next snapshot as soon as it acknowledged the previous one. */
  throughput?: { updatesPerSecond: number; updates: number; seconds: number; pushMs: Percentiles };
  /** 1-minute load average of the machine when the scenario started and ended (other work on it skews latency). */
  machineLoad: { start: number; end: number };
  /** The other side (not included above). */
  clients: {
    processes: number;
    rssBytes: number;
    /** CPU time of the sidecars' process, start to stop. */
    cpuMs?: number;
    /** Simulated sidecars only: their process's CPU for connecting (per sidecar, ms) and per update in the rounds (µs), beside the server's. */
    connectMsPerSidecar?: number;
    pushMicrosPerUpdate?: number;
    /** Simulated sidecars that dialled again because their first connection failed (a connect storm). */
    redials?: number;
  };
}

export type ScenarioMessage = { kind: "result"; result: ScenarioResult } | { kind: "error"; message: string };
