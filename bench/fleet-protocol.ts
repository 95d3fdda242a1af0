/** Messages between the benchmark's server process and its process of simulated sidecars. */

export interface FleetOptions {
  target: string;
  count: number;
  delta: boolean;
  nodePrefix: string;
}

export type FleetMessage = { kind: "started"; count: number } | { kind: "stopped"; cpuMicros: number; rssBytes: number; responses: number; errors: number };

export function fleetNodeId(prefix: string, index: number): string {
  return `${prefix}-${String(index).padStart(5, "0")}.bench`;
}
