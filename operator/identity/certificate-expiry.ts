import { Gauge, type Registry } from "prom-client";
import { pemCertificates } from "./trust-bundle.js";

export const CERTIFICATE_EXPIRY_METRIC = "bulwark_certificate_expiry_timestamp_seconds";

/**
 * When a PEM stops being usable, in seconds since the epoch: a serving chain when its first
 * certificate (the one served) expires; a trust bundle (`bundle`) when its last root does.
 */
export function certificateExpirySeconds(pem: string, kind: "chain" | "bundle" = "chain"): number {
  const ends = pemCertificates(pem).map((c) => c.validToDate.getTime());
  if (ends.length === 0) throw new Error("no PEM certificate");
  return Math.floor((kind === "chain" ? (ends[0] ?? 0) : Math.max(...ends)) / 1000);
}

export interface ExpirySource {
  pem: () => string | undefined;
  kind: "chain" | "bundle";
}

/**
 * `bulwark_certificate_expiry_timestamp_seconds{certificate}`: the expiry of each certificate a
 * component depends on, read at every scrape from the certificate in use (so a renewal or a CA
 * rotation shows at once). A source that has no certificate (yet), or one that cannot be read,
 * has no series; the component refuses or reports such a certificate where it loads it.
 */
export function certificateExpiryGauge(registry: Registry, sources: Readonly<Record<string, ExpirySource>>, more?: () => Iterable<[string, ExpirySource]>): Gauge {
  return new Gauge({
    name: CERTIFICATE_EXPIRY_METRIC,
    help: "When a certificate in use expires (notAfter, seconds since the epoch), by certificate: workload-ca (signs the sidecars' mesh certificates), xds-serving (the controller's xDS endpoint), injector-serving (the admission webhook), xds-ca (the last root injected sidecars trust the controller with), public-cert/<namespace>/<secret> (a policy's spec.tls.certificate, served by its sidecars).",
    labelNames: ["certificate"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [certificate, source] of [...Object.entries(sources), ...(more ? more() : [])]) {
        const pem = source.pem();
        if (pem === undefined) continue;
        try {
          this.set({ certificate }, certificateExpirySeconds(pem, source.kind));
        } catch {
          // Not a certificate: no series.
        }
      }
    },
  });
}
