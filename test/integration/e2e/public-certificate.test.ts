/**
 * A public certificate end to end: the real API server, `bulwark controller` as a process
 * (without mesh identity: a public certificate needs no workload CA) and a real Envoy sidecar.
 * The certificate lives in a kubernetes.io/tls Secret as cert-manager writes it; replacing the
 * Secret's content reaches new handshakes while an open connection keeps serving, and deleting it
 * turns ResolvedRefs False and closes every connection until it is back.
 */
import { X509Certificate } from "node:crypto";
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installCrds } from "../../support/crds.js";
import {
  conditionOf,
  createNamespace,
  createService,
  deleteNamespace,
  e2eEnvironment,
  getPolicy,
  kubeConfig,
  kubectl,
  policyManifest,
  startController,
  startSidecarPod,
  waitFor,
  type ControllerProcess,
  type E2eEnvironment,
  type SidecarPod,
} from "../../support/e2e.js";
import { testEnvironment, uniqueName } from "../../support/environment.js";
import { openTls } from "../../support/pki-mesh.js";
import { httpsGet, issuePublicCertificate, serialOf, tlsHandshake, type PublicCertificate, type PublicClientOptions } from "../../support/public-certificate.js";

const HOST = "api.shop.example";

let env: E2eEnvironment;
let kc: KubeConfig;
let core: CoreV1Api;
let systemNamespace: string;
let namespace: string;
let controller: ControllerProcess;
let sidecar: SidecarPod;
let first: PublicCertificate;
let second: PublicCertificate;

function secretBody(certificate: PublicCertificate): { metadata: { name: string; namespace: string }; type: string; stringData: Record<string, string> } {
  return { metadata: { name: "api-tls", namespace }, type: "kubernetes.io/tls", stringData: { "tls.crt": certificate.chainPem, "tls.key": certificate.keyPem } };
}

const client = (): PublicClientOptions => ({ port: sidecar.port, host: HOST, ca: [first.caPem, second.caPem] });

async function resolvedRefs(): Promise<{ status?: string; reason?: string; message?: string } | undefined> {
  return conditionOf(await getPolicy(kc, namespace, "api"), "ResolvedRefs");
}

beforeAll(async () => {
  env = e2eEnvironment(testEnvironment());
  kc = kubeConfig(env);
  core = kc.makeApiClient(CoreV1Api);
  await installCrds();
  [first, second] = await Promise.all([issuePublicCertificate([HOST]), issuePublicCertificate([HOST])]);
  systemNamespace = uniqueName("bulwark-public-tls");
  namespace = uniqueName("public-tls");
  await createNamespace(kc, systemNamespace);
  await createNamespace(kc, namespace);
  controller = await startController(env, { leaseNamespace: systemNamespace, identity: "public-tls-0" });
  await core.createNamespacedSecret({ namespace, body: secretBody(first) });
  await createService(kc, namespace, "api", { app: "api" });
  const spec = {
    targetRefs: [{ kind: "Service", name: "api" }],
    defaultAction: "Deny",
    rules: [{ name: "health", match: { path: "/v1/health" }, authentication: "None" }],
    tls: { certificate: { secretRef: { name: "api-tls" } }, hsts: { maxAge: "8760h" } },
  };
  await kubectl(env, ["apply", "--namespace", namespace], policyManifest(namespace, "api", spec));
  sidecar = await startSidecarPod(env, kc, { namespace, pod: "api-0", labels: { app: "api" }, xdsPort: controller.xdsPort, delta: false });
  await waitFor("the policy programmed", async () => conditionOf(await getPolicy(kc, namespace, "api"), "Programmed")?.status === "True", 60_000);
}, 180_000);

afterAll(async () => {
  await sidecar?.stop();
  await controller?.stop();
  for (const ns of [namespace, systemNamespace]) if (ns && kc) await deleteNamespace(kc, ns);
});

describe("a public certificate from a kubernetes.io/tls Secret, through bulwark controller", () => {
  it("is served with TLS 1.3 and HSTS; the policy decides as usual", async () => {
    expect((await resolvedRefs())?.status).toBe("True");
    const allowed = await waitFor("the sidecar serves the certificate", async () => (await httpsGet("/v1/health", client()).catch(() => undefined)) ?? undefined, 30_000);
    expect(allowed.status).toBe(200);
    expect(allowed.serial).toBe(serialOf(first.leafPem));
    expect(allowed.protocol).toBe("TLSv1.3");
    expect(allowed.headers["strict-transport-security"]).toBe("max-age=31536000");
    expect((await httpsGet("/v1/admin", client())).status).toBe(404);
    // Its expiry is exported beside the controller's own certificates (the BulwarkCertificateExpires* alerts read it).
    const expiry = await controller.metric("bulwark_certificate_expiry_timestamp_seconds", { certificate: `public-cert/${namespace}/api-tls` });
    expect(expiry).toBe(Math.floor(new X509Certificate(first.leafPem).validToDate.getTime() / 1000));
  });

  it("rotates when the Secret is replaced (as cert-manager renews it): new handshakes get the new certificate, an open connection keeps serving", async () => {
    const open = await openTls({ port: sidecar.port, ca: [first.caPem, second.caPem] });
    try {
      const before = await open.request("/v1/health");
      expect(before.peer?.serialNumber).toBe(serialOf(first.leafPem));
      await core.replaceNamespacedSecret({ namespace, name: "api-tls", body: secretBody(second) });
      await waitFor(
        "a new handshake gets the renewed certificate",
        async () => (await httpsGet("/v1/health", client()).catch(() => undefined))?.serial === serialOf(second.leafPem),
        30_000,
      );
      const after = await open.request("/v1/health");
      expect(after.error).toBeUndefined();
      expect(after.status).toBe(200);
      expect(after.peer?.serialNumber).toBe(serialOf(first.leafPem));
      expect(await controller.metric("bulwark_certificate_expiry_timestamp_seconds", { certificate: `public-cert/${namespace}/api-tls` })).toBe(
        Math.floor(new X509Certificate(second.leafPem).validToDate.getTime() / 1000),
      );
    } finally {
      open.close();
    }
  });

  it("a deleted Secret: ResolvedRefs False (SecretNotFound) and every connection closed; back when the Secret is", async () => {
    await core.deleteNamespacedSecret({ namespace, name: "api-tls" });
    const condition = await waitFor("ResolvedRefs False", async () => {
      const c = await resolvedRefs();
      return c?.status === "False" ? c : undefined;
    });
    expect(condition.reason).toBe("SecretNotFound");
    expect(condition.message).toContain(`Secret ${namespace}/api-tls (the public certificate of spec.tls.certificate) not found`);
    await waitFor("handshakes fail", async () => (await tlsHandshake(client())).startsWith("failed"), 30_000);
    await expect(sidecar.request("/v1/health")).rejects.toThrow();

    await core.createNamespacedSecret({ namespace, body: secretBody(second) });
    await waitFor("the sidecar serves again", async () => (await httpsGet("/v1/health", client()).catch(() => undefined))?.status === 200, 30_000);
    expect((await resolvedRefs())?.status).toBe("True");
  });
});
