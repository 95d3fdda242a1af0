import { X509Certificate, generateKeyPairSync, createPrivateKey } from "node:crypto";
import { describe, expect, it } from "vitest";
import { NAMES } from "../../envoy/build/resources.js";
import { makeSnapshot } from "../../envoy/snapshot/snapshot.js";
import { XdsType } from "../../envoy/type-urls.js";
import type { Logger } from "pino";
import type { SecretObject } from "../resolve/objects.js";
import { CaRotation } from "./ca-rotation.js";
import { WorkloadCa } from "./ca.js";
import { needsRenewal, parseDuration, renewalTime, validity } from "./rotation.js";
import { missingSecrets, withSecrets } from "../../envoy/snapshot/secrets.js";
import { identityOfPod, spiffeId } from "./spiffe.js";
import { WorkloadCertificates } from "./workload-certificates.js";

const now = new Date("2026-03-01T12:00:00Z");
const day = { lifetimeMs: 24 * 3600_000, renewAfter: 2 / 3 };
const identity = { namespace: "shop", serviceAccount: "orders" };

function leafOf(chainPem: string): X509Certificate {
  const first = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(chainPem)?.[0];
  if (!first) throw new Error("no certificate in the chain");
  return new X509Certificate(first);
}

describe("workload CA", () => {
  it("issues a certificate with the SPIFFE URI SAN that chains to the root, for the requested lifetime", async () => {
    const ca = await WorkloadCa.generate("mesh.example", now);
    const root = new X509Certificate(ca.certificatePem);
    expect(root.ca).toBe(true);
    const issued = await ca.issue(identity, now, day);
    const leaf = leafOf(issued.certificateChainPem);
    expect(issued.spiffeId).toBe("spiffe://mesh.example/ns/shop/sa/orders");
    expect(leaf.subjectAltName).toBe("URI:spiffe://mesh.example/ns/shop/sa/orders");
    expect(leaf.ca).toBe(false);
    expect(leaf.checkIssued(root)).toBe(true);
    expect(leaf.verify(root.publicKey)).toBe(true);
    expect(leaf.verify(new X509Certificate((await WorkloadCa.generate("mesh.example", now)).certificatePem).publicKey)).toBe(false);
    expect(new Date(leaf.validTo).getTime()).toBe(now.getTime() + day.lifetimeMs);
    expect(new Date(leaf.validFrom).getTime()).toBe(now.getTime() - 60_000);
    expect(leaf.keyUsage).toEqual(expect.arrayContaining(["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]));
    // The key is the certificate's.
    expect(leaf.checkPrivateKey(createPrivateKey(issued.privateKeyPem))).toBe(true);
    // The root is the trust bundle: the chain holds the leaf only.
    expect(issued.certificateChainPem.match(/BEGIN CERTIFICATE/g)).toHaveLength(1);
  });

  it("every issuance has a new key and serial", async () => {
    const ca = await WorkloadCa.generate("cluster.local", now);
    const a = await ca.issue(identity, now, day);
    const b = await ca.issue(identity, now, day);
    expect(a.serialNumber).not.toBe(b.serialNumber);
    expect(a.privateKeyPem).not.toBe(b.privateKeyPem);
  });

  it("loads a CA from PEM (an RSA one a user supplies too) and refuses a key that is not the certificate's", async () => {
    const ca = await WorkloadCa.generate("cluster.local", now);
    const loaded = await WorkloadCa.load({ certificatePem: ca.certificatePem, privateKeyPem: ca.privateKeyPem }, "cluster.local");
    const issued = await loaded.issue(identity, now, day);
    expect(leafOf(issued.certificateChainPem).verify(new X509Certificate(ca.certificatePem).publicKey)).toBe(true);
    const other = await WorkloadCa.generate("cluster.local", now);
    await expect(WorkloadCa.load({ certificatePem: ca.certificatePem, privateKeyPem: other.privateKeyPem }, "cluster.local")).rejects.toThrow(/does not belong/);
    const leafAsCa = { certificatePem: leafOf(issued.certificateChainPem).toString(), privateKeyPem: issued.privateKeyPem };
    await expect(WorkloadCa.load(leafAsCa, "cluster.local")).rejects.toThrow(/not a CA/);
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
    await expect(
      WorkloadCa.load({ certificatePem: ca.certificatePem, privateKeyPem: rsa.privateKey.export({ type: "pkcs8", format: "pem" }).toString() }, "cluster.local"),
    ).rejects.toThrow();
  });

  it("never issues past the CA's own expiry", async () => {
    const ca = await WorkloadCa.generate("cluster.local", now);
    const late = new Date(ca.notAfter.getTime() - 3600_000);
    const issued = await ca.issue(identity, late, day);
    expect(issued.notAfter.getTime()).toBe(ca.notAfter.getTime());
  });
});

describe("rotation", () => {
  it("renews at two thirds of the lifetime, not before", () => {
    const { notAfter } = validity(now, day);
    const cert = { issuedAt: now, notAfter };
    expect(renewalTime(now, notAfter, day).toISOString()).toBe("2026-03-02T04:00:00.000Z");
    expect(needsRenewal(cert, new Date("2026-03-02T03:59:59Z"), day)).toBe(false);
    expect(needsRenewal(cert, new Date("2026-03-02T04:00:00Z"), day)).toBe(true);
    expect(needsRenewal(cert, new Date("2026-03-03T00:00:00Z"), day)).toBe(true);
  });

  it("parses lifetimes", () => {
    expect(parseDuration("24h")).toBe(86_400_000);
    expect(parseDuration("30s")).toBe(30_000);
    expect(parseDuration("0s")).toBeUndefined();
    expect(parseDuration("1d")).toBeUndefined();
  });

  it("keeps one certificate per identity until it is due, then renews it", async () => {
    const ca = await WorkloadCa.generate("cluster.local", now);
    const issued: string[] = [];
    const certs = new WorkloadCertificates(ca, { rotation: day, onIssued: (c, renewal) => issued.push(`${c.spiffeId} ${renewal}`) });
    const first = await certs.certificateFor(identity, now);
    expect((await certs.certificateFor(identity, new Date(now.getTime() + 3600_000))).serialNumber).toBe(first.serialNumber);
    expect((await certs.certificateFor({ namespace: "shop", serviceAccount: "default" }, now)).serialNumber).not.toBe(first.serialNumber);
    expect(certs.nextRenewal()?.toISOString()).toBe("2026-03-02T04:00:00.000Z");
    const renewed = await certs.certificateFor(identity, new Date("2026-03-02T04:00:00Z"));
    expect(renewed.serialNumber).not.toBe(first.serialNumber);
    expect(issued).toEqual(["spiffe://cluster.local/ns/shop/sa/orders false", "spiffe://cluster.local/ns/shop/sa/default false", "spiffe://cluster.local/ns/shop/sa/orders true"]);
    certs.retain(new Set(["shop/orders"]));
    expect(certs.nextRenewal()?.toISOString()).toBe(renewalTime(renewed.issuedAt, renewed.notAfter, day).toISOString());
  });
});

describe("SDS secrets in a snapshot", () => {
  it("adds exactly the secrets the listener refers to, and the snapshot becomes consistent", async () => {
    const ca = await WorkloadCa.generate("cluster.local", now);
    const certs = new WorkloadCertificates(ca, { rotation: day });
    const listener = { typeUrl: XdsType.Listener, name: "inbound", body: Buffer.from("x"), references: [{ typeUrl: XdsType.Secret, name: NAMES.workloadCertificate }] };
    const plain = makeSnapshot([listener]);
    expect([...missingSecrets(plain)]).toEqual([NAMES.workloadCertificate]);
    const secrets = await certs.secretsFor(identity, missingSecrets(plain), now);
    expect(secrets.map((s) => s.name)).toEqual([NAMES.workloadCertificate]);
    const full = withSecrets(plain, secrets);
    expect(missingSecrets(full).size).toBe(0);
    expect(full.typeVersions.get(XdsType.Listener)).toBe(plain.typeVersions.get(XdsType.Listener));
    const mtls = makeSnapshot([{ ...listener, references: [...listener.references, { typeUrl: XdsType.Secret, name: NAMES.trustBundle }] }]);
    const both = await certs.secretsFor(identity, missingSecrets(mtls), now);
    expect(both.map((s) => s.name)).toEqual([NAMES.workloadCertificate, NAMES.trustBundle]);
    expect(JSON.stringify(both[1]?.resource)).toContain(JSON.stringify(ca.trustBundlePem));
    expect(await certs.secretsFor(identity, missingSecrets(makeSnapshot([])), now)).toEqual([]);
  });

  it("a pod's identity is its namespace and service account", () => {
    expect(identityOfPod({ metadata: { namespace: "a" }, spec: { serviceAccountName: "b" } })).toEqual({ namespace: "a", serviceAccount: "b" });
    expect(identityOfPod({ metadata: { namespace: "a" }, spec: {} })).toEqual({ namespace: "a", serviceAccount: "default" });
    expect(spiffeId("td", { namespace: "a", serviceAccount: "b" })).toBe("spiffe://td/ns/a/sa/b");
  });
});

describe("CA rotation", () => {
  const pino = { info: (): void => undefined, error: (): void => undefined } as unknown as Logger;
  const secretOf = (ca: WorkloadCa): SecretObject => ({
    metadata: { name: "bulwark-workload-ca", namespace: "bulwark-system" },
    data: { "tls.crt": Buffer.from(ca.certificatePem).toString("base64"), "tls.key": Buffer.from(ca.privateKeyPem).toString("base64") },
  });
  const bundleOf = (secrets: { name: string; resource: unknown }[]): string =>
    (secrets.find((s) => s.name === NAMES.trustBundle)?.resource as { validation_context: { trusted_ca: { inline_string: string } } }).validation_context.trusted_ca.inline_string;
  const names = new Set([NAMES.workloadCertificate, NAMES.trustBundle]);

  it("trusts old and new roots before the new CA issues, reissues on activation, and drops the old root when its certificates expire", async () => {
    const oldCa = await WorkloadCa.generate("cluster.local", now);
    const newCa = await WorkloadCa.generate("cluster.local", now);
    const certs = new WorkloadCertificates(oldCa, { rotation: day });
    const rotation = new CaRotation(certs, { namespace: "bulwark-system", name: "bulwark-workload-ca", trustDomain: "cluster.local", log: pino });
    const first = await certs.certificateFor(identity, now);
    expect(await rotation.observe([secretOf(oldCa)])).toEqual({ kind: "unchanged" });
    expect(rotation.pending()).toBe(false);

    expect(await rotation.observe([secretOf(newCa)])).toEqual({ kind: "staged" });
    const staged = await certs.secretsFor(identity, names, now);
    expect(bundleOf(staged)).toContain(oldCa.certificatePem.trim());
    expect(bundleOf(staged)).toContain(newCa.certificatePem.trim());
    expect((await certs.certificateFor(identity, now)).serialNumber).toBe(first.serialNumber); // the old CA still issues

    rotation.activate(now);
    const reissued = await certs.certificateFor(identity, now);
    expect(reissued.serialNumber).not.toBe(first.serialNumber);
    expect(leafOf(reissued.certificateChainPem).verify(new X509Certificate(newCa.certificatePem).publicKey)).toBe(true);
    expect(bundleOf(await certs.secretsFor(identity, names, now))).toContain(oldCa.certificatePem.trim());
    certs.retain(new Set()); // no certificate in use: the old root's retirement is what comes next
    expect(certs.nextRenewal()?.getTime()).toBe(first.notAfter.getTime());
    const later = new Date(first.notAfter.getTime() + 1);
    const bundle = bundleOf(await certs.secretsFor(identity, names, later));
    expect(bundle).not.toContain(oldCa.certificatePem.trim());
    expect(bundle).toContain(newCa.certificatePem.trim());
  });

  it("withdraws a staged CA when the Secret goes back to the CA in use: it never issues, its root leaves the bundle", async () => {
    const ca = await WorkloadCa.generate("cluster.local", now);
    const next = await WorkloadCa.generate("cluster.local", now);
    const certs = new WorkloadCertificates(ca, { rotation: day });
    const rotation = new CaRotation(certs, { namespace: "bulwark-system", name: "bulwark-workload-ca", trustDomain: "cluster.local", log: pino });
    expect(await rotation.observe([secretOf(ca)])).toEqual({ kind: "unchanged" });
    expect(await rotation.observe([secretOf(next)])).toEqual({ kind: "staged" });
    expect(await rotation.observe([secretOf(ca)])).toEqual({ kind: "unstaged" });
    expect(rotation.pending()).toBe(false);
    rotation.activate(now); // nothing staged: nothing happens
    expect(certs.current).toBe(ca);
    const bundle = bundleOf(await certs.secretsFor(identity, names, now));
    expect(bundle).toContain(ca.certificatePem.trim());
    expect(bundle).not.toContain(next.certificatePem.trim());
  });

  it("refuses a Secret whose ca.crt cannot be read, changing nothing (no staged CA, the same bundle)", async () => {
    const ca = await WorkloadCa.generate("cluster.local", now);
    const next = await WorkloadCa.generate("cluster.local", now);
    const certs = new WorkloadCertificates(ca, { rotation: day });
    const rotation = new CaRotation(certs, { namespace: "bulwark-system", name: "bulwark-workload-ca", trustDomain: "cluster.local", log: pino });
    const before = bundleOf(await certs.secretsFor(identity, names, now));
    const garbled = {
      ...secretOf(next),
      data: { ...secretOf(next).data, "ca.crt": Buffer.from("-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n").toString("base64") },
    };
    expect(await rotation.observe([garbled])).toMatchObject({ kind: "refused", first: true });
    expect(rotation.pending()).toBe(false);
    expect(await rotation.observe([garbled])).toMatchObject({ kind: "refused", first: false });
    expect(certs.current).toBe(ca);
    expect(bundleOf(await certs.secretsFor(identity, names, now))).toBe(before);
  });

  it("keeps the current CA when the Secret is broken or gone, and says why", async () => {
    const ca = await WorkloadCa.generate("cluster.local", now);
    const certs = new WorkloadCertificates(ca, { rotation: day });
    const rotation = new CaRotation(certs, { namespace: "bulwark-system", name: "bulwark-workload-ca", trustDomain: "cluster.local", log: pino });
    const other = await WorkloadCa.generate("cluster.local", now);
    const broken = { ...secretOf(ca), data: { "tls.crt": secretOf(ca).data?.["tls.crt"] ?? "", "tls.key": secretOf(other).data?.["tls.key"] ?? "" } };
    expect(await rotation.observe([broken])).toMatchObject({ kind: "refused", first: true, message: expect.stringContaining("does not belong") as unknown });
    expect(await rotation.observe([broken])).toMatchObject({ kind: "refused", first: false });
    expect(await rotation.observe([])).toMatchObject({ kind: "refused", message: expect.stringContaining("is gone") as unknown });
    expect(rotation.pending()).toBe(false);
    expect(certs.current).toBe(ca);
  });
});
