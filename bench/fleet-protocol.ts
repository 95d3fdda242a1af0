/** Messages between the benchmark's server process and its process of simulated sidecars. */

export interface FleetOptions {
  target: string;
  count: number;
  delta: boolean;
  nodePrefix: string;
  /**
   * The simulated sidecar: bench/ads-wire-client.ts (node:http2, the default) or
   * bench/ads-client.ts (grpc-js's client, about three times the CPU per message).
   */
  client?: "wire" | "grpc-js";
  /** Sidecars dialled per batch, 5 ms apart (default 50). */
  batch?: number;
}

/** From the benchmark to the fleet: stop, or report the CPU time used so far. */
export type FleetCommand = { kind: "stop" } | { kind: "cpu" };

export type FleetMessage =
  | { kind: "started"; count: number }
  | { kind: "cpu"; cpuMicros: number }
  | { kind: "stopped"; cpuMicros: number; rssBytes: number; responses: number; errors: number; redials: number };

export function fleetNodeId(prefix: string, index: number): string {
  return `${prefix}-${String(index).padStart(5, "0")}.bench`;
}
