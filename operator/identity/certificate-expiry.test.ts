import { X509Certificate } from "node:crypto";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { servingPki } from "../../test/support/pki-webhook.js";
import { certificateExpiryGauge, CERTIFICATE_EXPIRY_METRIC } from "./certificate-expiry.js";

const seconds = (pem: string): number => Math.floor(Date.parse(new X509Certificate(pem).validTo) / 1000);

describe("certificate expiry gauge", () => {
  it("reads the certificate in use at every scrape: a renewal shows at once, a chain by its first certificate, a bundle by its last root", async () => {
    const first = await servingPki("first");
    const renewed = await servingPki("renewed");
    let serving = first.certPem;
    const bundle = `${renewed.caPem}${first.caPem}`;
    const registry = new Registry();
    certificateExpiryGauge(registry, {
      "xds-serving": { pem: () => serving, kind: "chain" },
      "xds-ca": { pem: () => bundle, kind: "bundle" },
      missing: { pem: () => undefined, kind: "chain" },
      broken: { pem: () => "not a certificate", kind: "chain" },
    });
    const series = async (): Promise<Record<string, number>> => {
      const metric = await registry.getSingleMetric(CERTIFICATE_EXPIRY_METRIC)?.get();
      return Object.fromEntries((metric?.values ?? []).map((v) => [String(v.labels.certificate), v.value]));
    };
    const lastRoot = Math.max(seconds(renewed.caPem), seconds(first.caPem));
    expect(await series()).toEqual({ "xds-serving": seconds(first.certPem), "xds-ca": lastRoot });
    serving = `${renewed.certPem}${renewed.caPem}`;
    expect(await series()).toEqual({ "xds-serving": seconds(renewed.certPem), "xds-ca": lastRoot });
  });
});
