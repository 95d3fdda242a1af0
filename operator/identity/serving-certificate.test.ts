import { X509Certificate } from "node:crypto";
import { describe, expect, it } from "vitest";
import { generateServingCa, generateServingMaterial, issueServingCertificate, SERVING_LEAF_LIFETIME_MS, servingMaterialProblem, servingNotAfter } from "./serving-certificate.js";

const names = ["bw-bulwark-injector.ns.svc", "bw-bulwark-injector.ns", "127.0.0.1"];

describe("run-time serving certificates", () => {
  it("a new CA and leaf serve their names (DNS and IP SANs), signed by the CA, a year long", async () => {
    const now = new Date("2026-12-03T00:00:00Z");
    const material = await generateServingMaterial("bw CA", names, now);
    expect(servingMaterialProblem(material, names, now)).toBeUndefined();
    const leaf = new X509Certificate(material.certPem);
    expect(leaf.verify(new X509Certificate(material.caPem).publicKey)).toBe(true);
    expect(leaf.checkIP("127.0.0.1")).toBe("127.0.0.1");
    expect(leaf.ca).toBe(false);
    expect(new X509Certificate(material.caPem).ca).toBe(true);
    expect(servingNotAfter(material).getTime()).toBe(Math.floor((now.getTime() + SERVING_LEAF_LIFETIME_MS) / 1000) * 1000);
  });

  it("says why material cannot serve: a missing name, a third of the lifetime left, another CA, another key", async () => {
    const now = new Date("2026-12-03T00:00:00Z");
    const material = await generateServingMaterial("bw CA", names, now);
    expect(servingMaterialProblem(material, [...names, "other.ns.svc"], now)).toBe("the certificate does not name other.ns.svc");
    expect(servingMaterialProblem(material, names, new Date(now.getTime() + 240 * 24 * 3600_000))).toBeUndefined();
    expect(servingMaterialProblem(material, names, new Date(now.getTime() + 250 * 24 * 3600_000))).toMatch(/^the certificate expires /);
    const other = await generateServingCa("other CA", now);
    expect(servingMaterialProblem({ ...material, caPem: other.caPem }, names, now)).toBe("the certificate is not signed by the CA");
    const leaf = await issueServingCertificate({ caPem: material.caPem, caKeyPem: material.caKeyPem! }, names, now);
    expect(servingMaterialProblem({ ...material, keyPem: leaf.keyPem }, names, now)).toBe("the key does not belong to the certificate");
    // Renewal keeps the CA: clients that trust it trust the new leaf.
    expect(servingMaterialProblem({ ...material, ...leaf }, names, now)).toBeUndefined();
  });
});
