/**
 * The Helm chart against the real API server: lint, templates (goldens, server-side dry run),
 * the schema, install and uninstall; then the controller runs with exactly the chart's
 * ServiceAccount permissions (a TokenRequest token) and programs a protected sidecar with mTLS —
 * proof that the RBAC is sufficient — while `kubectl auth can-i --list` shows nothing more.
 * Pods never run here (no kubelet): installed objects are checked, not running pods.
 */
import { ApiextensionsV1Api, CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { webhookConfiguration } from "../../../injector/webhook-configuration.js";
import { exec } from "../../env/exec.js";
import { installCrds } from "../../support/crds.js";
import { conditionOf, createNamespace, createService, deleteNamespace, e2eEnvironment, getPolicy, kubeConfig, kubectl, policyManifest, startSidecarPod, waitFor, type E2eEnvironment, type SidecarPod } from "../../support/e2e.js";
import { testEnvironment, uniqueName } from "../../support/environment.js";
import { readWorkloadCa, startMeshController, tlsRequest } from "../../support/pki-mesh.js";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const chart = join(repoRoot, "charts/bulwark");
const testdata = fileURLToPath(new URL("./testdata/", import.meta.url));
const update = process.env.UPDATE_GOLDENS === "1";

let env: E2eEnvironment;
let helmBinary: string;
let kc: KubeConfig;
let namespace: string;
const cleanup: (() => Promise<unknown>)[] = [];

function helm(args: readonly string[]): Promise<{ stdout: string; stderr: string }> {
  return exec(helmBinary, ["--kubeconfig", env.kubeconfig, ...args], { missingFix: "run `npm run env -- provision`" });
}

type Manifest = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; annotations?: Record<string, string> } } & Record<string, unknown>;

function documents(text: string): Manifest[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as Manifest | null)
    .filter((d): d is Manifest => d !== null);
}

/** Generated certificates differ on every render: the goldens name them instead. */
function normalized(text: string): string {
  return text.replace(/^(\s*(?:ca\.crt|tls\.crt|tls\.key|caBundle)): [A-Za-z0-9+/=]{40,}$/gm, "$1: <generated>");
}

async function template(release: string, extra: readonly string[] = [], ns = namespace): Promise<string> {
  return (await helm(["template", release, chart, "--namespace", ns, ...extra])).stdout;
}

async function golden(name: string, rendered: string): Promise<void> {
  // The CRD is crds/ itself (checked below), not repeated in the goldens.
  const text = normalized(
    documents(rendered)
      .filter((d) => d.kind !== "CustomResourceDefinition")
      .map((d) => stringify(d, { lineWidth: 0 }))
      .join("---\n"),
  );
  const file = join(testdata, `${name}.golden.yaml`);
  if (update || !existsSync(file)) {
    await writeFile(file, text);
    if (!update) throw new Error(`wrote the missing golden ${file}; check it and run again`);
    return;
  }
  expect(text, `${name}: run with UPDATE_GOLDENS=1 to regenerate`).toBe(await readFile(file, "utf8"));
}

async function serverDryRun(rendered: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "bulwark-helm-"));
  const file = join(dir, "manifests.yaml");
  await writeFile(file, rendered);
  return (await kubectl(env, ["apply", "--dry-run=server", "--server-side", "--force-conflicts", "--field-manager=bulwark-helm-test", "-f", file])).stdout;
}

beforeAll(async () => {
  const info = testEnvironment();
  env = e2eEnvironment(info);
  helmBinary = info.binaries.helm;
  kc = kubeConfig(env);
  await installCrds();
  namespace = uniqueName("bulwark-chart");
  await createNamespace(kc, namespace);
  // The namespace full-values.yaml's NetworkPolicy goes to (fixed: it is in the golden).
  await createNamespace(kc, "bulwark-chart-mesh-apps").catch((error: unknown) => {
    if (!String(error).includes("already exists") && (error as { code?: number }).code !== 409) throw error;
  });
}, 120_000);

afterAll(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => undefined);
  if (namespace) await deleteNamespace(kc, namespace);
});

describe("chart", () => {
  it("passes helm lint with default and full values", async () => {
    for (const extra of [[], ["-f", join(testdata, "full-values.yaml")]]) {
      const { stdout } = await helm(["lint", chart, "--strict", ...extra]);
      expect(stdout).toContain("0 chart(s) failed");
      expect(stdout).not.toMatch(/\[(WARNING|ERROR)\]/);
    }
  });

  it("renders default values: golden, valid for the API server (server-side dry run), CRD from crds/ kept on uninstall", async () => {
    await golden("default", await template("bw", [], "bulwark-system"));
    const rendered = await template("bw");
    const docs = documents(rendered);
    const crd = docs.find((d) => d.kind === "CustomResourceDefinition");
    expect(crd?.metadata.annotations?.["helm.sh/resource-policy"]).toBe("keep");
    const source = documents(await readFile(join(repoRoot, "crds/bulwark.dev_apisecuritypolicies.yaml"), "utf8"))[0];
    expect(crd?.spec).toEqual(source?.spec);
    const out = await serverDryRun(rendered);
    expect(out).toContain("deployment.apps/bw-bulwark-controller serverside-applied (server dry run)");
    expect(out).toContain("mutatingwebhookconfiguration.admissionregistration.k8s.io/bw-bulwark-injector serverside-applied (server dry run)");
    // The helm test hook Pod is valid for the API server too (running it needs a kubelet, which this environment has not).
    expect(docs.find((d) => d.kind === "Pod")?.metadata.annotations?.["helm.sh/hook"]).toBe("test");
    expect(out).toContain("pod/bw-bulwark-test serverside-applied (server dry run)");
    // No NetworkPolicy unless asked for; the injector is told the egress proxy's port.
    expect(docs.some((d) => d.kind === "NetworkPolicy")).toBe(false);
    expect(rendered).toContain("--outbound-port=15001");
    // Every container: non-root, read-only root filesystem, no privilege escalation, no capabilities.
    for (const d of docs.filter((x) => x.kind === "Deployment" || x.kind === "Pod")) {
      const spec = (d.kind === "Pod" ? d.spec : (d.spec as { template: { spec: unknown } }).template.spec) as { securityContext: { runAsNonRoot: boolean }; containers: { securityContext: Record<string, unknown>; resources: { requests: unknown } }[] };
      expect(spec.securityContext.runAsNonRoot, d.metadata.name).toBe(true);
      for (const c of spec.containers) {
        expect(c.securityContext, d.metadata.name).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } });
        expect(c.resources.requests, d.metadata.name).toBeDefined();
      }
    }
    // No registry host anywhere: images are repository:tag, a host only where the user puts one.
    for (const image of rendered.match(/image: \S+/g) ?? []) expect(image).not.toMatch(/image: [^/\s]*\.[^/\s]*\//);
  });

  it("renders the same webhook selectors the injector's tests register", async () => {
    const docs = documents(await template("bw"));
    const rendered = docs.find((d) => d.kind === "MutatingWebhookConfiguration") as { webhooks: Record<string, unknown>[] } | undefined;
    const expected = webhookConfiguration({ name: "x", clientConfig: { caBundle: "", service: { namespace, name: "bw-bulwark-injector", port: 443 } }, failurePolicy: "Fail", excludedNamespaces: ["kube-system", "kube-node-lease", namespace] }) as { webhooks: Record<string, unknown>[] };
    const strip = (w: Record<string, unknown>): Record<string, unknown> => ({ ...w, clientConfig: { service: (w.clientConfig as { service: unknown }).service } });
    expect(rendered?.webhooks.map(strip)).toEqual(expected.webhooks.map(strip));
  });

  it("renders full values: golden and server-side dry run; cert-manager mode renders an Issuer, a Certificate and CA injection", async () => {
    await golden("full", await template("bw", ["-f", join(testdata, "full-values.yaml")], "bulwark-system"));
    const rendered = await template("bw", ["-f", join(testdata, "full-values.yaml")]);
    const docs = documents(rendered);
    expect(docs.filter((d) => d.kind === "HorizontalPodAutoscaler").map((d) => d.metadata.name).sort()).toEqual(["shield-authz", "shield-controller"]);
    expect(docs.some((d) => d.kind === "Deployment" && d.metadata.name === "shield-redis")).toBe(true);
    // A user-supplied CA: the controller may read it, not create secrets.
    const role = docs.find((d) => d.kind === "Role") as { rules: { resources: string[]; verbs: string[]; resourceNames?: string[] }[] } | undefined;
    expect(role?.rules.filter((r) => r.resources.includes("secrets"))).toEqual([{ apiGroups: [""], resources: ["secrets"], resourceNames: ["corp-mesh-ca"], verbs: ["get"] }]);
    const out = await serverDryRun(rendered);
    // The optional NetworkPolicy: injected pods of the listed namespace admit ingress on the sidecar's inbound and probe ports only.
    const policy = docs.find((d) => d.kind === "NetworkPolicy") as { metadata: { namespace: string }; spec: unknown } | undefined;
    expect(policy?.metadata.namespace).toBe("bulwark-chart-mesh-apps");
    expect(policy?.spec).toEqual({ podSelector: { matchLabels: { "bulwark.dev/sidecar": "injected" } }, policyTypes: ["Ingress"], ingress: [{ ports: [{ port: 15001, protocol: "TCP" }, { port: 15021, protocol: "TCP" }] }] });
    expect(out).toContain("networkpolicy.networking.k8s.io/shield-sidecar-inbound serverside-applied (server dry run)");
    const certManager = documents(await template("bw", ["--set", "injector.certificate.source=certManager", "--set", "controller.xdsCertificate.source=certManager"]));
    expect(certManager.map((d) => d.kind)).toEqual(expect.arrayContaining(["Issuer", "Certificate"]));
    expect(certManager.some((d) => d.kind === "Secret")).toBe(false);
    // The xDS serving certificate names the controller's Service as sidecars reach it.
    const xdsCertificate = certManager.find((d) => d.kind === "Certificate" && d.metadata.name === "bw-bulwark-controller-xds") as { spec: { secretName: string; dnsNames: string[] } } | undefined;
    expect(xdsCertificate?.spec).toMatchObject({ secretName: "bw-bulwark-controller-xds-tls", dnsNames: expect.arrayContaining([`bw-bulwark-controller.${namespace}.svc`]) as unknown });
    expect(certManager.find((d) => d.kind === "MutatingWebhookConfiguration")?.metadata.annotations?.["cert-manager.io/inject-ca-from"]).toBe(`${namespace}/bw-bulwark-injector`);
  });

  it("inbound interception is on by default (the chart's image runs it) and can be turned off for the NetworkPolicy", async () => {
    const injectorArgs = async (values: string[]): Promise<string[]> => {
      const docs = documents(await template("bw", values));
      const deployment = docs.find((d) => d.kind === "Deployment" && d.metadata.name === "bw-bulwark-injector") as { spec: { template: { spec: { containers: { args: string[] }[] } } } } | undefined;
      return (deployment?.spec.template.spec.containers[0]?.args ?? []).filter((a) => /^--(inbound-interception|intercept-image|probe-port)/.test(a));
    };
    expect(await injectorArgs([])).toEqual(["--inbound-interception=iptables", "--intercept-image=bulwark:0.1.0", "--intercept-image-pull-policy=IfNotPresent", "--probe-port=15021"]);
    expect(await injectorArgs(["--set", "proxy.interception.enabled=false"])).toEqual(["--inbound-interception=none"]);
    const off = documents(await template("bw", ["--set", "proxy.interception.enabled=false", "--set", "injector.networkPolicy.enabled=true", "--set", "injector.networkPolicy.namespaces={apps}"]));
    expect((off.find((d) => d.kind === "NetworkPolicy") as { spec: { ingress: unknown } } | undefined)?.spec.ingress).toEqual([{ ports: [{ port: 15006, protocol: "TCP" }] }]);
  });

  it("the schema rejects unknown keys and wrong values", async () => {
    await expect(template("bw", ["--set", "controller.replicaCount=2"])).rejects.toThrow(/additional propert/i);
    await expect(template("bw", ["--set", "bogus=1"])).rejects.toThrow(/additional propert/i);
    await expect(template("bw", ["--set", "injector.failurePolicy=Sometimes"])).rejects.toThrow(/failurePolicy/);
    await expect(template("bw", ["--set", "controller.workloadCa.certificateLifetime=1d"])).rejects.toThrow(/certificateLifetime/);
    await expect(template("bw", ["--set", "injector.networkPolicy.enabled=true"])).rejects.toThrow(/needs injector.networkPolicy.namespaces/);
    await expect(template("bw", ["--set", "injector.networkPolicy.namespaces={Not_A_Namespace}"])).rejects.toThrow(/namespaces/);
    await expect(template("bw", ["--set", "proxy.outboundPort=15006"])).rejects.toThrow(/must differ/);
    await expect(template("bw", ["--set", "proxy.probePort=15000"])).rejects.toThrow(/must differ/);
    await expect(template("bw", ["--set", "proxy.interception.enabled=yes"])).rejects.toThrow(/interception/);
    await expect(template("bw", ["--set", "clientAddress.trustedHops=11"])).rejects.toThrow(/trustedHops/);
    await expect(template("bw", ["--set", "clientAddress.header=X-Real-IP"])).rejects.toThrow(/clientAddress.header needs clientAddress.trustedCIDRs/);
    await expect(template("bw", ["--set", "clientAddress.header=X-Real-IP,clientAddress.trustedHops=1,clientAddress.trustedCIDRs={10.0.0.0/8}"])).rejects.toThrow(/set header or trustedHops, not both/);
    await expect(template("bw", ["--set", "clientAddress.trustedCIDRs={10.0.0.0/8}"])).rejects.toThrow(/trustedCIDRs needs clientAddress.trustedHops/);
  });

  it("passes the cluster-wide client address to the controller: the TCP peer by default, trusted hops from the proxies' networks when asked", async () => {
    const controllerArgs = async (extra: readonly string[]): Promise<string[]> => {
      const docs = documents(await template("bw", extra));
      const deployment = docs.find((d) => d.kind === "Deployment" && d.metadata.name === "bw-bulwark-controller") as { spec: { template: { spec: { containers: { args: string[] }[] } } } } | undefined;
      return (deployment?.spec.template.spec.containers[0]?.args ?? []).filter((a) => a.startsWith("--client-address"));
    };
    expect(await controllerArgs([])).toEqual(["--client-address-trusted-hops=0"]);
    expect(await controllerArgs(["--set", "clientAddress.trustedHops=2,clientAddress.trustedCIDRs={10.0.0.0/8,192.168.0.0/16}"])).toEqual([
      "--client-address-trusted-hops=2",
      "--client-address-trusted-cidrs=10.0.0.0/8,192.168.0.0/16",
    ]);
  });
});

describe("install, least privilege, uninstall", () => {
  const sidecars: SidecarPod[] = [];

  it("installs, runs the controller with the chart's ServiceAccount token, and uninstalls keeping the CRD", async () => {
    // Ignore: the webhook's Service has no endpoints here; other suites' labelled pods must not be refused.
    await helm(["install", "bw", chart, "--namespace", namespace, "--take-ownership", "--set", "injector.failurePolicy=Ignore"]);
    let installed = true;
    cleanup.push(() => (installed ? helm(["uninstall", "bw", "--namespace", namespace]) : Promise.resolve()));
    const names = (await kubectl(env, ["get", "deployments,services,serviceaccounts,roles,rolebindings,poddisruptionbudgets,secrets", "-n", namespace, "-o", "name"])).stdout;
    for (const object of ["deployment.apps/bw-bulwark-controller", "deployment.apps/bw-bulwark-authz", "deployment.apps/bw-bulwark-ratelimit", "deployment.apps/bw-bulwark-injector", "service/bw-bulwark-controller", "serviceaccount/bw-bulwark-controller", "secret/bw-bulwark-injector-tls"]) {
      expect(names).toContain(object);
    }
    expect((await kubectl(env, ["get", "mutatingwebhookconfiguration", "bw-bulwark-injector", "-o", "name"])).stdout.trim()).toBe("mutatingwebhookconfiguration.admissionregistration.k8s.io/bw-bulwark-injector");

    // What the controller's account may do, as the API server sees it.
    const account = `system:serviceaccount:${namespace}:bw-bulwark-controller`;
    const canI = async (ns: string, as = account): Promise<string[]> =>
      (await kubectl(env, ["auth", "can-i", "--list", "--as", as, "-n", ns])).stdout
        .split("\n")
        .map((l) => /^(\S+)\s+\[(.*?)\]\s+\[(.*?)\]\s+\[(.*?)\]$/.exec(l.trim()))
        .filter((m): m is RegExpExecArray => m !== null && m[1] !== "Resources" && (m[2] ?? "") === "")
        .map((m) => `${m[1] ?? ""} [${m[4] ?? ""}]${m[3] ? ` ${m[3]}` : ""}`)
        .filter((l) => !/^(selfsubject|subjectaccess)/.test(l))
        .sort();
    const elsewhere = await canI("default");
    expect(elsewhere).toEqual(
      [
        "apisecuritypolicies.bulwark.dev [list watch]",
        "apisecuritypolicies.bulwark.dev/status [patch]",
        "events [create]",
        "namespaces [list watch]",
        "pods [list watch]",
        "secrets [list watch]",
        "services [list watch]",
        // Each sidecar's xDS stream presents its pod's token, which the controller checks with TokenReview.
        "tokenreviews.authentication.k8s.io [create]",
      ].sort(),
    );
    // bulwark ratelimit reads no Secrets; bulwark authz reads them (inline JWKS) and nothing else is written by either.
    const readOnly = ["apisecuritypolicies.bulwark.dev [list watch]", "namespaces [list watch]", "pods [list watch]", "services [list watch]"];
    expect(await canI("default", `system:serviceaccount:${namespace}:bw-bulwark-ratelimit`)).toEqual(readOnly);
    expect(await canI("default", `system:serviceaccount:${namespace}:bw-bulwark-authz`)).toEqual([...readOnly, "secrets [list watch]"].sort());
    const own = await canI(namespace);
    expect(own.filter((l) => !elsewhere.includes(l)).sort()).toEqual(["leases.coordination.k8s.io [get list watch create update delete]", "secrets [get] bw-bulwark-workload-ca", "secrets [list watch create]"].sort());

    // The controller with exactly those permissions: lists everything, creates its CA, leads, writes status.
    const token = await kc.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({ namespace, name: "bw-bulwark-controller", body: { spec: { audiences: [], expirationSeconds: 3600 } } });
    const admin = kc.getCurrentCluster();
    if (!admin || !token.status?.token) throw new Error("no cluster or token");
    const restricted = new KubeConfig();
    restricted.loadFromOptions({ clusters: [admin], users: [{ name: "controller", token: token.status.token }], contexts: [{ name: "controller", cluster: admin.name, user: "controller" }], currentContext: "controller" });
    const dir = await mkdtemp(join(tmpdir(), "bulwark-rbac-"));
    const kubeconfig = join(dir, "kubeconfig");
    await writeFile(kubeconfig, restricted.exportConfig());
    const controller = await startMeshController({ ...env, kubeconfig }, { leaseNamespace: namespace, identity: "rbac-0", trustDomain: "cluster.local", caSecret: "bw-bulwark-workload-ca" });
    cleanup.push(() => controller.stop());
    const apps = uniqueName("rbac-apps");
    await createNamespace(kc, apps);
    cleanup.push(() => deleteNamespace(kc, apps));
    await createService(kc, apps, "orders", { app: "orders" });
    await kubectl(env, ["apply", "--namespace", apps], policyManifest(apps, "orders", { targetRefs: [{ kind: "Service", name: "orders" }], defaultAction: "Allow", tls: { mtls: "Strict" } }));
    const sidecar = await startSidecarPod(env, kc, { namespace: apps, pod: "orders-0", labels: { app: "orders" }, xdsPort: controller.xdsPort, delta: true });
    sidecars.push(sidecar);
    cleanup.push(() => sidecar.stop());
    await waitFor("Programmed under the chart's RBAC", async () => (conditionOf(await getPolicy(kc, apps, "orders"), "Programmed")?.status === "True" ? true : undefined), 30_000);
    const ca = await readWorkloadCa(kc, namespace, "bw-bulwark-workload-ca", "cluster.local");
    const client = await ca.issue({ namespace: apps, serviceAccount: "client" }, new Date(), { lifetimeMs: 3600_000, renewAfter: 2 / 3 });
    const outcome = await tlsRequest({ port: sidecar.port, ca: ca.trustBundlePem, expectServerId: `spiffe://cluster.local/ns/${apps}/sa/default`, cert: client.certificateChainPem, key: client.privateKeyPem });
    expect(outcome.status, JSON.stringify(outcome)).toBe(200);
    const events = (await kc.makeApiClient(CoreV1Api).listNamespacedEvent({ namespace: apps })).items.filter((e) => e.involvedObject.name === "orders");
    expect(events.length).toBeGreaterThan(0);

    await helm(["uninstall", "bw", "--namespace", namespace]);
    installed = false;
    const crd = await kc.makeApiClient(ApiextensionsV1Api).readCustomResourceDefinition({ name: "apisecuritypolicies.bulwark.dev" });
    expect(crd.metadata?.name).toBe("apisecuritypolicies.bulwark.dev");
    expect((await kubectl(env, ["get", "deployments", "-n", namespace, "-o", "name"])).stdout.trim()).toBe("");
    await expect(kubectl(env, ["get", "clusterrole", "bw-bulwark-controller"])).rejects.toThrow(/NotFound|not found/);
  }, 180_000);
});
