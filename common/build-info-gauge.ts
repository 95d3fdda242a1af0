import { Gauge, type Registry } from "prom-client";

/** `bulwark_build_info`: 1, labelled with the running build (every component exports it). */
export function buildInfoGauge(registry: Registry, build?: { version: string; commit: string }): Gauge {
  const gauge = new Gauge({ name: "bulwark_build_info", help: "1, labelled with the running build.", labelNames: ["version", "commit"], registers: [registry] });
  if (build) gauge.set({ version: build.version, commit: build.commit }, 1);
  return gauge;
}
