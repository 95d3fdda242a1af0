/**
 * CA rotation with two controller replicas, each serving its own sidecars from the same CA
 * Secret: a replica issues certificates of a new root only once the other live replica reports
 * (in its sidecar-report Lease) that every sidecar connected to it has acknowledged the bundle
 * with that root. Real API server, real controllers, real Envoys.
 */
import { CoordinationV1Api, CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { X509Certificate } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WorkloadCa } from "../../../operator/identity/ca.js";
import { rootFingerprints } from "../../../operator/identity/trust-bundle.js";
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
  proxyRequest,
  startSidecarPod,
  waitFor,
  type ControllerProcess,
  type E2eEnvironment,
  type SidecarPod,
} from "../../support/e2e.js";
import { testEnvironment, uniqueName } from "../../support/environment.js";
import { startMeshController } from "../../support/pki-mesh.js";

const TRUST_DOMAIN = "replicas.test";
const CA_SECRET = "bulwark-workload-ca";
const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

let env: E2eEnvironment;
let kc: KubeConfig;
let systemNamespace: string;
let namespace: string;
const controllers: ControllerProcess[] = [];
let caller: SidecarPod;
let server: SidecarPod;

/** The SDS secrets a sidecar holds: its certificate's leaf and the roots it validates peers with. */
async function secretsHeld(sidecar: SidecarPod): Promise<{ certificate?: X509Certificate; roots: X509Certificate[] }> {
  type Dumped = {
    name?: string;
    secret?: { tls_certificate?: { certificate_chain?: { inline_string?: string } }; validation_context?: { trusted_ca?: { inline_string?: string } } };
  };
  const dump = JSON.parse((await sidecar.admin("/config_dump?resource=dynamic_active_secrets")).body) as { configs?: Dumped[] };
  const leaf = dump.configs?.find((c) => c.name === "workload-cert")?.secret?.tls_certificate?.certificate_chain?.inline_string?.match(PEM_BLOCK)?.[0];
  const bundle = dump.configs?.find((c) => c.name === "trust-bundle")?.secret?.validation_context?.trusted_ca?.inline_string ?? "";
  return { ...(leaf ? { certificate: new X509Certificate(leaf) } : {}), roots: (bundle.match(PEM_BLOCK) ?? []).map((b) => new X509Certificate(b)) };
}

/** The roots each replica's report Lease says its sidecars all trust, by replica. */
async function publishedTrust(): Promise<Map<string, string>> {
  const leases = await kc.makeApiClient(CoordinationV1Api).listNamespacedLease({ namespace: systemNamespace, labelSelector: "bulwark.dev/sidecar-reports" });
  return new Map(leases.items.map((l) => [l.spec?.holderIdentity ?? "", l.metadata?.annotations?.["bulwark.dev/trusted-roots"] ?? ""]));
}

beforeAll(async () => {
  env = e2eEnvironment(testEnvironment());
  kc = kubeConfig(env);
  await installCrds();
  systemNamespace = uniqueName("bulwark-replicas");
  namespace = uniqueName("replicas-app");
  await createNamespace(kc, systemNamespace);
  await createNamespace(kc, namespace);
  controllers.push(await startMeshController(env, { leaseNamespace: systemNamespace, identity: "replica-a", trustDomain: TRUST_DOMAIN }));
  controllers.push(await startMeshController(env, { leaseNamespace: systemNamespace, identity: "replica-b", trustDomain: TRUST_DOMAIN, caSecretCreate: false }));
  const [a, b] = controllers as [ControllerProcess, ControllerProcess];
  await createService(kc, namespace, "server", { app: "server" });
  await kubectl(
    env,
    ["apply", "--namespace", namespace],
    policyManifest(namespace, "server", { targetRefs: [{ kind: "Service", name: "server" }], defaultAction: "Allow", tls: { mtls: "Strict" } }),
  );
  // The caller's sidecar is served by replica A, the server's by replica B.
  server = await startSidecarPod(env, kc, { namespace, pod: "server-0", labels: { app: "server" }, xdsPort: b.xdsPort, delta: false });
  caller = await startSidecarPod(env, kc, {
    namespace,
    pod: "caller-0",
    labels: { app: "caller" },
    xdsPort: a.xdsPort,
    delta: false,
    annotations: { "bulwark.dev/egress-proxy": "enabled" },
  });
  await waitFor("the server's policy programmed", async () => (conditionOf(await getPolicy(kc, namespace, "server"), "Programmed")?.status === "True" ? true : undefined), 30_000);
  await waitFor(
    "the caller reaches the server through its egress proxy",
    async () => ((await proxyRequest(caller.outboundPort, "http://server/").catch(() => undefined))?.status === 200 ? true : undefined),
    30_000,
  );
}, 180_000);

afterAll(async () => {
  await Promise.all([caller, server].filter(Boolean).map((s) => s.stop()));
  await Promise.all(controllers.map((c) => c.stop()));
  for (const ns of [namespace, systemNamespace]) if (ns && kc) await deleteNamespace(kc, ns);
});

describe("CA rotation with two controller replicas", () => {
  it("a replica issues certificates of a new root only once the other replica's sidecars trust it", async () => {
    const next = await WorkloadCa.generate(TRUST_DOMAIN, new Date());
    const nextRoot = new X509Certificate(next.certificatePem);
    const [nextFingerprint] = rootFingerprints(next.certificatePem);
    const trusts = (roots: X509Certificate[]): boolean => roots.some((r) => r.raw.equals(nextRoot.raw));
    // The server's Envoy (served by replica B) stops answering; its xDS stream stays open.
    process.kill(server.envoy.pid, "SIGSTOP");
    let resumed = false;
    try {
      const core = kc.makeApiClient(CoreV1Api);
      const secret = await core.readNamespacedSecret({ namespace: systemNamespace, name: CA_SECRET });
      secret.data = { "tls.crt": Buffer.from(next.certificatePem).toString("base64"), "tls.key": Buffer.from(next.privateKeyPem).toString("base64") };
      await core.replaceNamespacedSecret({ namespace: systemNamespace, name: CA_SECRET, body: secret });
      // Replica A's only sidecar acknowledges the new bundle, and A says so in its report.
      await waitFor("the caller trusts the new root", async () => (trusts((await secretsHeld(caller)).roots) ? true : undefined), 10_000, 20);
      await waitFor(
        "replica A reports that its sidecars trust the new root",
        async () => ((await publishedTrust()).get("replica-a")?.includes(nextFingerprint ?? "?") ? true : undefined),
        10_000,
        50,
      );
      await new Promise((r) => setTimeout(r, 2000));
      expect((await publishedTrust()).get("replica-b") ?? "", "replica B reports a root its stopped sidecar has not acknowledged").not.toContain(nextFingerprint);
      expect((await secretsHeld(caller)).certificate?.verify(nextRoot.publicKey), "replica A issued a certificate of the new root while replica B's sidecar cannot verify it").toBe(
        false,
      );
      process.kill(server.envoy.pid, "SIGCONT");
      resumed = true;
      for (const sidecar of [caller, server]) {
        await waitFor(
          `${sidecar.pod} uses a certificate of the new root`,
          async () => ((await secretsHeld(sidecar)).certificate?.verify(nextRoot.publicKey) ? true : undefined),
          20_000,
          50,
        );
      }
      expect((await proxyRequest(caller.outboundPort, "http://server/after-rotation")).status).toBe(200);
    } finally {
      if (!resumed) process.kill(server.envoy.pid, "SIGCONT");
    }
  }, 90_000);

  it("a replica that is gone does not hold a rotation back longer than the activation timeout (its report Lease, not renewed, stops counting after 30 s)", async () => {
    const b = controllers[1] as ControllerProcess;
    // Replica B dies without a word; its server sidecar stays connected to nothing.
    await b.kill();
    const next = await WorkloadCa.generate(TRUST_DOMAIN, new Date());
    const nextRoot = new X509Certificate(next.certificatePem);
    const core = kc.makeApiClient(CoreV1Api);
    const secret = await core.readNamespacedSecret({ namespace: systemNamespace, name: CA_SECRET });
    secret.data = { "tls.crt": Buffer.from(next.certificatePem).toString("base64"), "tls.key": Buffer.from(next.privateKeyPem).toString("base64") };
    const started = Date.now();
    await core.replaceNamespacedSecret({ namespace: systemNamespace, name: CA_SECRET, body: secret });
    await waitFor(
      "the caller uses a certificate of the new root",
      async () => ((await secretsHeld(caller)).certificate?.verify(nextRoot.publicKey) ? true : undefined),
      45_000,
      100,
    );
    const elapsed = Date.now() - started;
    console.log(`replica B killed: replica A activated the new root after ${elapsed} ms (bounded by the activation timeout, 10 s, and B's record expiry, 30 s)`);
    expect(elapsed).toBeLessThan(15_000);
  }, 90_000);
});
