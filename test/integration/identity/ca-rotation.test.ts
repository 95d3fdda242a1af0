/**
 * Rotation of the workload CA by its owner, and renewal of workload certificates, with real
 * Envoys fed by `bulwark controller` and the CA Secret in the real API server: replacing the
 * Secret's root during traffic fails no request (the new root is trusted by every sidecar before
 * it issues anything), and the certificates Envoy then uses chain to the new root. Both times are
 * measured from the start (the Secret update; a certificate's renewal time) to the new
 * certificate in use, as Envoy's admin /certs reports it, several times: median and maximum.
 */
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WorkloadCa } from "../../../operator/identity/ca.js";
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
  trafficLoop,
  waitFor,
  type ControllerProcess,
  type E2eEnvironment,
  type SidecarPod,
} from "../../support/e2e.js";
import { testEnvironment, uniqueName } from "../../support/environment.js";
import { readWorkloadCa, startMeshController, tlsRequest } from "../../support/pki-mesh.js";

const TRUST_DOMAIN = "rotation.test";
const LIFETIME_MS = 15_000;
const ROUNDS = 7;
const CA_SECRET = "bulwark-workload-ca";

let env: E2eEnvironment;
let kc: KubeConfig;
let systemNamespace: string;
let namespace: string;
let controller: ControllerProcess;
let caller: SidecarPod;
let server: SidecarPod;

interface InUse {
  serial: string;
  notAfter: number;
  /** Every TLS context of the sidecar (inbound listener, outbound clusters) uses this certificate. */
  everywhere: boolean;
}

function normalSerial(serial: string): string {
  return serial.toLowerCase().replace(/^0+/, "");
}

/** The workload certificate Envoy uses, from its admin /certs. */
async function certificateInUse(sidecar: SidecarPod): Promise<InUse | undefined> {
  const answer = await sidecar.admin("/certs");
  const certs = JSON.parse(answer.body) as { certificates: { cert_chain?: { serial_number: string; expiration_time: string; subject_alt_names?: { uri?: string }[] }[] }[] };
  const leaves = certs.certificates.map((c) => c.cert_chain?.[0]).filter((c) => c?.subject_alt_names?.some((s) => s.uri?.startsWith(`spiffe://${TRUST_DOMAIN}/`)));
  const first = leaves[0];
  if (!first) return undefined;
  const serials = new Set(leaves.map((l) => normalSerial(l?.serial_number ?? "")));
  return { serial: normalSerial(first.serial_number), notAfter: new Date(first.expiration_time).getTime(), everywhere: serials.size === 1 };
}

interface Held {
  /** The workload certificate's leaf (config_dump shows the chain; the key is redacted). */
  certificate?: X509Certificate;
  /** The roots the sidecar validates peers with. */
  roots: X509Certificate[];
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The SDS secrets a sidecar holds: its certificate and its trust bundle. */
async function secretsHeld(sidecar: SidecarPod): Promise<Held> {
  type Dumped = {
    name?: string;
    secret?: { tls_certificate?: { certificate_chain?: { inline_string?: string } }; validation_context?: { trusted_ca?: { inline_string?: string } } };
  };
  const dump = JSON.parse((await sidecar.admin("/config_dump?resource=dynamic_active_secrets")).body) as { configs?: Dumped[] };
  const chain = dump.configs?.find((c) => c.name === "workload-cert")?.secret?.tls_certificate?.certificate_chain?.inline_string;
  const bundle = dump.configs?.find((c) => c.name === "trust-bundle")?.secret?.validation_context?.trusted_ca?.inline_string ?? "";
  const leaf = chain?.match(PEM_BLOCK)?.[0];
  return { ...(leaf ? { certificate: new X509Certificate(leaf) } : {}), roots: (bundle.match(PEM_BLOCK) ?? []).map((b) => new X509Certificate(b)) };
}

async function certificateHeld(sidecar: SidecarPod): Promise<X509Certificate | undefined> {
  return (await secretsHeld(sidecar)).certificate;
}

/** notAfter (to the millisecond, as the controller holds it) of each certificate the controller issued, by serial, from its log. */
async function issuedNotAfter(): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const line of (await readFile(controller.logFile, "utf8")).split("\n")) {
    if (!line.includes("issued a workload certificate")) continue;
    const entry = JSON.parse(line) as { serial?: string; notAfter?: string };
    if (entry.serial && entry.notAfter) out.set(normalSerial(entry.serial), new Date(entry.notAfter).getTime());
  }
  return out;
}

function stats(values: number[]): { median: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)] ?? Number.NaN, max: sorted[sorted.length - 1] ?? Number.NaN };
}

async function replaceCaSecret(ca: WorkloadCa): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  const current = await core.readNamespacedSecret({ namespace: systemNamespace, name: CA_SECRET });
  current.data = { "tls.crt": Buffer.from(ca.certificatePem).toString("base64"), "tls.key": Buffer.from(ca.privateKeyPem).toString("base64") };
  await core.replaceNamespacedSecret({ namespace: systemNamespace, name: CA_SECRET, body: current });
}

beforeAll(async () => {
  env = e2eEnvironment(testEnvironment());
  kc = kubeConfig(env);
  await installCrds();
  systemNamespace = uniqueName("bulwark-rotation");
  namespace = uniqueName("rotation-app");
  await createNamespace(kc, systemNamespace);
  await createNamespace(kc, namespace);
  controller = await startMeshController(env, {
    leaseNamespace: systemNamespace,
    identity: "rotation-0",
    trustDomain: TRUST_DOMAIN,
    certificateLifetime: `${LIFETIME_MS / 1000}s`,
  });
  await createService(kc, namespace, "server", { app: "server" });
  await kubectl(
    env,
    ["apply", "--namespace", namespace],
    policyManifest(namespace, "server", { targetRefs: [{ kind: "Service", name: "server" }], defaultAction: "Allow", tls: { mtls: "Strict" } }),
  );
  server = await startSidecarPod(env, kc, { namespace, pod: "server-0", labels: { app: "server" }, xdsPort: controller.xdsPort, delta: false });
  caller = await startSidecarPod(env, kc, {
    namespace,
    pod: "caller-0",
    labels: { app: "caller" },
    xdsPort: controller.xdsPort,
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
  await controller?.stop();
  for (const ns of [namespace, systemNamespace]) if (ns && kc) await deleteNamespace(kc, ns);
});

describe("CA rotation by the user", () => {
  it("replacing the CA Secret during traffic fails no request; the new certificates chain to the new root", async () => {
    const roots = [(await readWorkloadCa(kc, systemNamespace, CA_SECRET, TRUST_DOMAIN)).trustBundlePem];
    const client = await (
      await readWorkloadCa(kc, systemNamespace, CA_SECRET, TRUST_DOMAIN)
    ).issue({ namespace, serviceAccount: "client" }, new Date(), { lifetimeMs: 3600_000, renewAfter: 2 / 3 });
    // Through the caller's sidecar (pooled mTLS upstream) and straight to the server (a fresh handshake each time).
    const viaMesh = trafficLoop(
      () => proxyRequest(caller.outboundPort, `http://server.${namespace}.svc.cluster.local/rotation`),
      (a) => a.status === 200 && a.body.includes('"app":"server-0"'),
    );
    const direct = trafficLoop(
      async () => {
        const outcome = await tlsRequest({
          port: server.port,
          ca: roots,
          cert: client.certificateChainPem,
          key: client.privateKeyPem,
          expectServerId: `spiffe://${TRUST_DOMAIN}/ns/${namespace}/sa/default`,
        });
        return { status: outcome.status ?? 0, headers: {}, body: outcome.body ?? outcome.error ?? "" };
      },
      (a) => a.status === 200,
    );
    const latencies: number[] = [];
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const next = await WorkloadCa.generate(TRUST_DOMAIN, new Date());
        const nextRoot = new X509Certificate(next.certificatePem);
        roots.push(next.certificatePem); // the test client trusts the new root too, as a mesh member would
        const started = Date.now();
        await replaceCaSecret(next);
        // Until both sidecars use a certificate of the new root; at every look, a sidecar that holds one
        // must not have a peer that cannot verify it yet (the new root reaches every bundle first).
        const done = new Map<string, number>();
        while (done.size < 2) {
          if (Date.now() - started > 20_000) throw new Error(`round ${round + 1}: no certificate of the new root in use after 20 s`);
          const held = await Promise.all([caller, server].map((sidecar) => secretsHeld(sidecar)));
          const trusted = held.map((h) => h.roots.some((r) => r.raw.equals(nextRoot.raw)));
          for (const h of held) {
            if (h.certificate?.verify(nextRoot.publicKey))
              expect(trusted, `round ${round + 1}: a certificate of the new root before every sidecar trusts it`).toEqual([true, true]);
          }
          for (const [i, sidecar] of [caller, server].entries()) {
            if (done.has(sidecar.pod)) continue;
            const inUse = await certificateInUse(sidecar);
            const certificate = held[i]?.certificate;
            if (inUse?.everywhere && certificate && normalSerial(certificate.serialNumber) === inUse.serial && certificate.verify(nextRoot.publicKey))
              done.set(sidecar.pod, Date.now());
          }
          await new Promise((r) => setTimeout(r, 5));
        }
        latencies.push(Math.max(...done.values()) - started);
        await new Promise((r) => setTimeout(r, 500));
      }
    } finally {
      await Promise.all([viaMesh.stop(), direct.stop()]);
    }
    expect(viaMesh.report.failures).toEqual([]);
    expect(direct.report.failures).toEqual([]);
    expect(viaMesh.report.ok).toBeGreaterThan(50);
    expect(direct.report.ok).toBeGreaterThan(20);
    const events = await kc.makeApiClient(CoreV1Api).listNamespacedEvent({ namespace: systemNamespace, fieldSelector: `involvedObject.name=${CA_SECRET}` });
    expect(events.items.filter((e) => e.reason === "WorkloadCARotating" && e.involvedObject.kind === "Secret").length).toBeGreaterThanOrEqual(1);
    const { median, max } = stats(latencies);
    console.log(`CA Secret replaced → both sidecars use certificates of the new root: median ${median} ms, max ${max} ms over ${ROUNDS} rotations (${latencies.join(", ")} ms)`);
    expect(max).toBeLessThan(15_000);
  }, 180_000);

  it("a new root issues only once every connected sidecar trusts it: a sidecar that has not acknowledged the bundle holds the rotation back", async () => {
    const next = await WorkloadCa.generate(TRUST_DOMAIN, new Date());
    const nextRoot = new X509Certificate(next.certificatePem);
    const trusts = (h: Held): boolean => h.roots.some((r) => r.raw.equals(nextRoot.raw));
    // The server's Envoy stops answering (its xDS stream stays open): it cannot acknowledge the new bundle.
    process.kill(server.envoy.pid, "SIGSTOP");
    let resumed = false;
    try {
      await replaceCaSecret(next);
      await waitFor("the caller trusts the new root", async () => (trusts(await secretsHeld(caller)) ? true : undefined), 10_000, 20);
      await new Promise((r) => setTimeout(r, 1500));
      const held = await secretsHeld(caller);
      expect(held.certificate?.verify(nextRoot.publicKey), "the caller got a certificate of the new root while the server cannot verify it").toBe(false);
      process.kill(server.envoy.pid, "SIGCONT");
      resumed = true;
      for (const sidecar of [caller, server]) {
        await waitFor(
          `${sidecar.pod} uses a certificate of the new root`,
          async () => ((await secretsHeld(sidecar)).certificate?.verify(nextRoot.publicKey) ? true : undefined),
          15_000,
          20,
        );
      }
      expect((await proxyRequest(caller.outboundPort, "http://server/after-rotation")).status).toBe(200);
    } finally {
      if (!resumed) process.kill(server.envoy.pid, "SIGCONT");
    }
  }, 60_000);

  it("a broken CA Secret keeps the current CA: certificates keep coming from it", async () => {
    const before = await certificateHeld(server);
    const core = kc.makeApiClient(CoreV1Api);
    const current = await core.readNamespacedSecret({ namespace: systemNamespace, name: CA_SECRET });
    const good = { ...current.data };
    current.data = { ...good, "tls.key": Buffer.from("not a key").toString("base64") };
    await core.replaceNamespacedSecret({ namespace: systemNamespace, name: CA_SECRET, body: current });
    try {
      // A renewal happens within a lifetime; the renewed certificate comes from the same CA as before.
      const renewed = await waitFor(
        "a renewal under the broken Secret",
        async () => {
          const held = await certificateHeld(server);
          return held && before && held.serialNumber !== before.serialNumber ? held : undefined;
        },
        LIFETIME_MS + 5000,
        100,
      );
      expect(renewed.issuer).toBe(before?.issuer);
      // The reason is told where the user looks: an Event on the Secret.
      const events = await core.listNamespacedEvent({ namespace: systemNamespace, fieldSelector: `involvedObject.name=${CA_SECRET}` });
      const warning = events.items.find((e) => e.reason === "InvalidWorkloadCA");
      expect(warning?.involvedObject.kind).toBe("Secret");
      expect(warning?.message).toContain(`the workload CA Secret ${systemNamespace}/${CA_SECRET} is not usable, so the current CA keeps issuing`);
      expect((await proxyRequest(caller.outboundPort, "http://server/")).status).toBe(200);
    } finally {
      const fresh = await core.readNamespacedSecret({ namespace: systemNamespace, name: CA_SECRET });
      fresh.data = good;
      await core.replaceNamespacedSecret({ namespace: systemNamespace, name: CA_SECRET, body: fresh });
    }
  }, 60_000);
});

describe("workload certificate renewal", () => {
  it("a renewed certificate is in use by Envoy shortly after its renewal time (2/3 of its lifetime)", async () => {
    const latencies: number[] = [];
    let current = await waitFor("a certificate in use", async () => {
      const c = await certificateInUse(server);
      return c?.everywhere ? c : undefined;
    });
    const failures = trafficLoop(
      () => proxyRequest(caller.outboundPort, "http://server/renewal"),
      (a) => a.status === 200,
    );
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const previous = current.serial;
        // The certificate's own notAfter has whole seconds; the controller's log has it to the millisecond.
        const notAfter = (await issuedNotAfter()).get(previous) ?? current.notAfter;
        const renewAt = notAfter - LIFETIME_MS / 3;
        current = await waitFor(
          `renewal ${round + 1}`,
          async () => {
            const c = await certificateInUse(server);
            return c?.everywhere && c.serial !== previous ? c : undefined;
          },
          LIFETIME_MS + 5000,
          10,
        );
        latencies.push(Date.now() - renewAt);
      }
    } finally {
      const report = await failures.stop();
      expect(report.failures).toEqual([]);
    }
    const { median, max } = stats(latencies);
    console.log(`workload certificate renewal → new certificate in use by Envoy: median ${median} ms, max ${max} ms over ${ROUNDS} renewals (${latencies.join(", ")} ms)`);
    expect(max).toBeLessThan(5000);
  }, 120_000);
});
