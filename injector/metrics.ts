import { collectDefaultMetrics, Registry } from "prom-client";
import { buildInfoGauge } from "../common/build-info-gauge.js";
import { certificateExpiryGauge } from "../operator/identity/certificate-expiry.js";

/** The injector's /metrics: process metrics, its build, and the expiry of the certificates it serves and hands out. */
export function injectorRegistry(options: { build: { version: string; commit: string }; servingPem: () => string; xdsCaPem: () => string }): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  buildInfoGauge(registry, options.build);
  certificateExpiryGauge(registry, { "injector-serving": { pem: options.servingPem, kind: "chain" }, "xds-ca": { pem: options.xdsCaPem, kind: "bundle" } });
  return registry;
}
