/**
 * Workload identity and mTLS end to end: `bulwark controller` runs the workload CA (its root in a
 * Secret it creates), issues each sidecar a short-lived SPIFFE certificate over SDS, and real
 * Envoys enforce the policies' `tls`: Strict refuses plaintext and peers without a mesh
 * certificate, Permissive accepts both, TLS 1.3 minimum refuses TLS 1.2; a rotation reaches the
 * sidecars without dropping an open connection or failing a request.
 */
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { X509Certificate } from "node:crypto";
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
  httpRequest,
  kubeConfig,
  proxyRequest,
  kubectl,
  policyManifest,
  startSidecarPod,
  waitFor,
  type ControllerProcess,
  type E2eEnvironment,
  type SidecarPod,
} from "../../support/e2e.js";
import { testEnvironment, uniqueName } from "../../support/environment.js";
import { readWorkloadCa, startMeshController, tlsRequest, openTls, type TlsClientOptions } from "../../support/pki-mesh.js";

const TRUST_DOMAIN = "mesh.test";
/** Short enough to see a rotation (after 2/3: 20 s) during the test. */
const LIFETIME_MS = 30_000;
const day = { lifetimeMs: 24 * 3600_000, renewAfter: 2 / 3 };

let env: E2eEnvironment;
let kc: KubeConfig;
let systemNamespace: string;
let namespace: string;
let controller: ControllerProcess;
let ca: WorkloadCa;
let meshClient: { cert: string; key: string };
let foreignClient: { cert: string; key: string };
const sidecars = new Map<string, SidecarPod>();

async function protect(service: string, tls: Record<string, string>, rules?: unknown[]): Promise<SidecarPod> {
  await createService(kc, namespace, service, { app: service });
  const spec = { targetRefs: [{ kind: "Service", name: service }], defaultAction: "Allow", tls, ...(rules ? { rules } : {}) };
  await kubectl(env, ["apply", "--namespace", namespace], policyManifest(namespace, service, spec));
  const sidecar = await startSidecarPod(env, kc, { namespace, pod: `${service}-0`, labels: { app: service }, xdsPort: controller.xdsPort, delta: false });
  sidecars.set(service, sidecar);
  await waitFor(
    `${service} programmed`,
    async () => {
      const p = await getPolicy(kc, namespace, service);
      return conditionOf(p, "Programmed")?.status === "True" ? true : undefined;
    },
    30_000,
  );
  return sidecar;
}

function client(service: string, extra: Partial<TlsClientOptions> = {}): TlsClientOptions {
  const sidecar = sidecars.get(service);
  if (!sidecar) throw new Error(`no sidecar ${service}`);
  return { port: sidecar.port, ca: ca.trustBundlePem, expectServerId: `spiffe://${TRUST_DOMAIN}/ns/${namespace}/sa/default`, ...extra };
}

function appAnswered(outcome: { ok: boolean; status?: number; body?: string }, service: string): boolean {
  return outcome.ok && outcome.status === 200 && (JSON.parse(outcome.body ?? "{}") as { app?: string }).app === `${service}-0`;
}

beforeAll(async () => {
  env = e2eEnvironment(testEnvironment());
  kc = kubeConfig(env);
  await installCrds();
  systemNamespace = uniqueName("bulwark-mesh");
  namespace = uniqueName("mesh-app");
  await createNamespace(kc, systemNamespace);
  await createNamespace(kc, namespace);
  controller = await startMeshController(env, { leaseNamespace: systemNamespace, identity: "mesh-0", trustDomain: TRUST_DOMAIN, certificateLifetime: `${LIFETIME_MS / 1000}s` });
  ca = await readWorkloadCa(kc, systemNamespace, "bulwark-workload-ca", TRUST_DOMAIN);
  const issued = await ca.issue({ namespace, serviceAccount: "client" }, new Date(), day);
  meshClient = { cert: issued.certificateChainPem, key: issued.privateKeyPem };
  const foreign = await (await WorkloadCa.generate(TRUST_DOMAIN, new Date())).issue({ namespace, serviceAccount: "client" }, new Date(), day);
  foreignClient = { cert: foreign.certificateChainPem, key: foreign.privateKeyPem };
  // "guarded": /internal/ only for the ServiceAccount "client" of this namespace (mesh authorization by identity).
  const guarded = [{ name: "internal", match: { pathPrefix: "/internal/" }, authentication: "None", callers: [{ serviceAccount: "client" }] }];
  await Promise.all([
    protect("strict", { mtls: "Strict" }),
    protect("permissive", { mtls: "Permissive" }),
    protect("modern", { minVersion: "TLSv1.3" }),
    protect("guarded", { mtls: "Permissive" }, guarded),
  ]);
}, 180_000);

afterAll(async () => {
  await Promise.all([...sidecars.values()].map((s) => s.stop()));
  await controller?.stop();
  for (const ns of [namespace, systemNamespace]) if (ns && kc) await deleteNamespace(kc, ns);
});

describe("workload CA", () => {
  it("keeps its root in a kubernetes.io/tls Secret it created", async () => {
    const secret = await kc.makeApiClient(CoreV1Api).readNamespacedSecret({ namespace: systemNamespace, name: "bulwark-workload-ca" });
    expect(secret.type).toBe("kubernetes.io/tls");
    expect(new X509Certificate(ca.certificatePem).ca).toBe(true);
  });

  it("a second controller replica reuses the same root", async () => {
    const second = await startMeshController(env, { leaseNamespace: systemNamespace, identity: "mesh-1", trustDomain: TRUST_DOMAIN, caSecretCreate: false });
    try {
      expect((await readWorkloadCa(kc, systemNamespace, "bulwark-workload-ca", TRUST_DOMAIN)).certificatePem).toBe(ca.certificatePem);
    } finally {
      await second.stop();
    }
  });
});

describe("Strict mTLS", () => {
  it("accepts a peer with a mesh certificate; the sidecar presents its SPIFFE certificate", async () => {
    const outcome = await tlsRequest(client("strict", meshClient));
    expect(outcome.error).toBeUndefined();
    expect(appAnswered(outcome, "strict")).toBe(true);
    const leaf = new X509Certificate(outcome.peer?.raw ?? Buffer.alloc(0));
    expect(leaf.subjectAltName).toBe(`URI:spiffe://${TRUST_DOMAIN}/ns/${namespace}/sa/default`);
    expect(leaf.verify(new X509Certificate(ca.certificatePem).publicKey)).toBe(true);
    const lifetime = new Date(leaf.validTo).getTime() - new Date(leaf.validFrom).getTime();
    expect(lifetime).toBe(LIFETIME_MS + 3000); // backdated by a tenth of the lifetime
  });

  it("refuses plaintext", async () => {
    const sidecar = sidecars.get("strict");
    await expect(httpRequest(sidecar?.port ?? 0, "/")).rejects.toThrow();
    expect(sidecar?.app.requests).toBe(1);
  });

  it("refuses a TLS client without a certificate", async () => {
    const outcome = await tlsRequest(client("strict"));
    expect(outcome.ok, JSON.stringify(outcome)).toBe(false);
  });

  it("refuses a client whose certificate comes from another CA", async () => {
    const outcome = await tlsRequest(client("strict", foreignClient));
    expect(outcome.ok, JSON.stringify(outcome)).toBe(false);
    expect(sidecars.get("strict")?.app.requests).toBe(1);
  });
});

describe("mesh authorization by caller identity (rules[].callers)", () => {
  it("lets the listed ServiceAccount's certificate through and refuses another ServiceAccount of the same CA with 403 caller_denied", async () => {
    const before = sidecars.get("guarded")?.app.requests ?? 0;
    const allowed = await tlsRequest(client("guarded", meshClient), "/internal/ledger");
    expect(appAnswered(allowed, "guarded"), JSON.stringify(allowed)).toBe(true);
    const intruder = await ca.issue({ namespace, serviceAccount: "intruder" }, new Date(), day);
    const refused = await tlsRequest(client("guarded", { cert: intruder.certificateChainPem, key: intruder.privateKeyPem }), "/internal/ledger");
    expect(refused.status, JSON.stringify(refused)).toBe(403);
    expect(refused.body).toBe('{"error":"caller_denied"}');
    const elsewhere = await ca.issue({ namespace: `${namespace}-other`, serviceAccount: "client" }, new Date(), day);
    expect((await tlsRequest(client("guarded", { cert: elsewhere.certificateChainPem, key: elsewhere.privateKeyPem }), "/internal/ledger")).status).toBe(403);
    expect(sidecars.get("guarded")?.app.requests).toBe(before + 1);
  });

  it("refuses plaintext and TLS without a certificate on the guarded rule (no identity), while other routes stay open under Permissive", async () => {
    const sidecar = sidecars.get("guarded");
    const plaintext = await httpRequest(sidecar?.port ?? 0, "/internal/ledger");
    expect(plaintext.status).toBe(403);
    expect(plaintext.headers["x-bulwark-reason"]).toBe("caller_denied");
    expect((await tlsRequest(client("guarded"), "/internal/ledger")).status).toBe(403);
    expect((await httpRequest(sidecar?.port ?? 0, "/public")).status).toBe(200);
  });
});

describe("Permissive mTLS", () => {
  it("accepts plaintext, TLS without a certificate and mTLS with a mesh certificate", async () => {
    const plain = await httpRequest(sidecars.get("permissive")?.port ?? 0, "/");
    expect(plain.status).toBe(200);
    const noCertificate = await tlsRequest(client("permissive"));
    expect(appAnswered(noCertificate, "permissive"), JSON.stringify(noCertificate)).toBe(true);
    const withCertificate = await tlsRequest(client("permissive", meshClient));
    expect(appAnswered(withCertificate, "permissive"), JSON.stringify(withCertificate)).toBe(true);
  });

  it("still refuses a certificate of another CA", async () => {
    expect((await tlsRequest(client("permissive", foreignClient))).ok).toBe(false);
  });
});

describe("TLS 1.3 minimum", () => {
  it("refuses a TLS 1.2 client and serves a TLS 1.3 one", async () => {
    const old = await tlsRequest(client("modern", { maxVersion: "TLSv1.2" }));
    expect(old.ok).toBe(false);
    const modern = await tlsRequest(client("modern"));
    expect(appAnswered(modern, "modern")).toBe(true);
    expect(modern.protocol).toBe("TLSv1.3");
    // The Permissive listener (TLS 1.2 minimum) does serve TLS 1.2: the refusal is the policy's.
    const permissive = await tlsRequest(client("permissive", { maxVersion: "TLSv1.2" }));
    expect(permissive.protocol, JSON.stringify(permissive)).toBe("TLSv1.2");
  });
});

describe("rotation", () => {
  it("a renewed certificate reaches the sidecar without dropping an open connection or failing a request", async () => {
    const open = await openTls(client("strict", meshClient));
    try {
      const first = await open.request("/before");
      expect(appAnswered(first, "strict")).toBe(true);
      const oldLeaf = new X509Certificate(first.peer?.raw ?? Buffer.alloc(0));
      const oldIssuedAt = new Date(oldLeaf.validTo).getTime() - LIFETIME_MS;
      const renewAt = oldIssuedAt + (LIFETIME_MS * 2) / 3;
      let failures: string[] = [];
      let requests = 0;
      let newSerial: string | undefined;
      let seenAt = 0;
      // Fresh connections until one sees the new certificate; every one must succeed.
      while (!newSerial) {
        const outcome = await tlsRequest(client("strict", meshClient));
        requests += 1;
        if (!appAnswered(outcome, "strict")) failures = [...failures, JSON.stringify(outcome).slice(0, 200)];
        const serial = outcome.peer?.serialNumber;
        if (serial && serial !== oldLeaf.serialNumber) {
          newSerial = serial;
          seenAt = Date.now();
        }
        if (Date.now() - renewAt > 20_000) throw new Error("no new certificate 20 s after the renewal time");
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(failures).toEqual([]);
      expect(requests).toBeGreaterThan(10);
      const latency = seenAt - renewAt;
      console.log(`workload certificate rotation: new certificate in use ${latency} ms after its renewal time (${requests} requests, 0 failed)`);
      expect(latency).toBeLessThan(5000);
      // The connection opened with the old certificate still works.
      const after = await open.request("/after");
      expect(after.error).toBeUndefined();
      expect(appAnswered(after, "strict")).toBe(true);
    } finally {
      open.close();
    }
  }, 90_000);
});

describe("sidecar to sidecar, as translated and pushed by the controller", () => {
  it("the app of pod A calls http://<B>.<ns>.svc.cluster.local through its sidecar's egress proxy and reaches B's app over mTLS; unknown hosts are refused", async () => {
    // A: no policy (pass-through inbound); its app uses the egress proxy (annotated), so the mesh gives its sidecar one.
    const caller = await startSidecarPod(env, kc, {
      namespace,
      pod: "caller-0",
      labels: { app: "caller" },
      xdsPort: controller.xdsPort,
      delta: false,
      annotations: { "bulwark.dev/egress-proxy": "enabled" },
    });
    sidecars.set("caller", caller);
    const strict = sidecars.get("strict");
    if (!strict) throw new Error("no strict sidecar");
    const url = `http://strict.${namespace}.svc.cluster.local/through-the-mesh`;
    const before = strict.app.requests;
    const handshakes = async (): Promise<number> =>
      [...(await strict.stats("ssl\\.handshake$")).entries()].filter(([k]) => k.startsWith("listener.")).reduce((n, [, v]) => n + v, 0);
    const handshakesBefore = await handshakes();
    const answer = await waitFor(
      "a request through the caller's egress proxy",
      async () => {
        const a = await proxyRequest(caller.outboundPort, url).catch(() => undefined);
        return a?.status === 200 ? a : undefined;
      },
      30_000,
    );
    expect(JSON.parse(answer.body)).toMatchObject({ app: "strict-0", path: "/through-the-mesh" });
    expect(strict.app.requests).toBeGreaterThan(before);
    // Over mTLS: the Strict listener completed handshakes, and the caller's cluster to B did too.
    expect(await handshakes()).toBeGreaterThan(handshakesBefore);
    const callerTls = await caller.stats(`cluster\\.outbound/${namespace}/strict\\.ssl\\.handshake$`);
    expect([...callerTls.values()].reduce((n, v) => n + v, 0)).toBeGreaterThan(0);
    // Every form of B's name reaches it, with and without the Service port.
    for (const host of ["strict", "strict:80", `strict.${namespace}`, `strict.${namespace}.svc`, `strict.${namespace}.svc.cluster.local:80`]) {
      const a = await proxyRequest(caller.outboundPort, `http://${host}/by-name`);
      expect(a.status, host).toBe(200);
      expect((JSON.parse(a.body) as { app: string }).app).toBe("strict-0");
    }
    // The certificate the caller's Envoy presents is its own workload certificate (SDS), chained to the mesh root.
    const certs = JSON.parse((await caller.admin("/certs")).body) as { certificates: { cert_chain: { serial_number: string; subject_alt_names: { uri?: string }[] }[] }[] };
    const uris = certs.certificates.flatMap((c) => c.cert_chain.flatMap((x) => x.subject_alt_names.map((s) => s.uri)));
    expect(uris).toContain(`spiffe://${TRUST_DOMAIN}/ns/${namespace}/sa/default`);

    // A sidecar's own identity (ServiceAccount default) is what rules' callers judge: the guarded rule refuses it, the rest of the service answers.
    const guarded = `http://guarded.${namespace}.svc.cluster.local`;
    await waitFor(
      "guarded through the mesh",
      async () => ((await proxyRequest(caller.outboundPort, `${guarded}/open`).catch(() => undefined))?.status === 200 ? true : undefined),
      30_000,
    );
    const denied = await proxyRequest(caller.outboundPort, `${guarded}/internal/ledger`);
    expect(denied.status).toBe(403);
    expect(denied.body).toBe('{"error":"caller_denied"}');

    // B in Strict refuses plaintext (the proxy is the only way in with a certificate).
    await expect(httpRequest(strict.port, "/plaintext")).rejects.toThrow();
    // Unknown hosts: a 404 from the proxy, never a connection elsewhere (no open proxy).
    for (const unknown of ["http://example.com/", `http://strict.not-${namespace}.svc.cluster.local/`, "http://127.0.0.1:1/", `http://strict.${namespace}.svc.cluster.local:81/`]) {
      const a = await proxyRequest(caller.outboundPort, unknown);
      expect(a.status, unknown).toBe(404);
      expect(a.body).toContain("not a Service of the mesh");
    }
  });
});
