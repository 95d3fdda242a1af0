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
  startSidecarPod,
  waitFor,
  type E2eEnvironment,
  type SidecarPod,
} from "../../support/e2e.js";
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

async function template(release: string, extra: readonly string[] = [], ns = namespace): Promise<string> {
  return (await helm(["template", release, chart, "--namespace", ns, ...extra])).stdout;
}

async function golden(name: string, rendered: string): Promise<void> {
  // The CRD is crds/ itself (checked below), not repeated in the goldens.
  const text = documents(rendered)
    .filter((d) => d.kind !== "CustomResourceDefinition")
    .map((d) => stringify(d, { lineWidth: 0 }))
    .join("---\n");
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
    const inventoryCrd = docs.find((d) => d.kind === "CustomResourceDefinition" && d.metadata.name === "apiinventories.bulwark.dev");
    expect(inventoryCrd?.metadata.annotations?.["helm.sh/resource-policy"]).toBe("keep");
    expect(inventoryCrd?.spec).toEqual(documents(await readFile(join(repoRoot, "crds/bulwark.dev_apiinventories.yaml"), "utf8"))[0]?.spec);
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
      const spec = (d.kind === "Pod" ? d.spec : (d.spec as { template: { spec: unknown } }).template.spec) as {
        securityContext: { runAsNonRoot: boolean };
        containers: { securityContext: Record<string, unknown>; resources: { requests: unknown } }[];
      };
      expect(spec.securityContext.runAsNonRoot, d.metadata.name).toBe(true);
      for (const c of spec.containers) {
        expect(c.securityContext, d.metadata.name).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } });
        expect(c.resources.requests, d.metadata.name).toBeDefined();
      }
    }
    // No registry host anywhere: images are repository:tag, a host only where the user puts one.
    for (const image of rendered.match(/image: \S+/g) ?? []) expect(image).not.toMatch(/image: [^/\s]*\.[^/\s]*\//);
  });

  it("renders the same bytes twice: no certificate, key or caBundle is made at render time (Argo CD stays in sync)", async () => {
    const variants = [
      [],
      ["-f", join(testdata, "full-values.yaml")],
      ["--api-versions", "cert-manager.io/v1", "--set", "injector.certificate.source=certManager", "--set", "controller.xdsCertificate.source=certManager"],
      [
        "--api-versions",
        "monitoring.coreos.com/v1",
        "--set",
        "metrics.serviceMonitor.enabled=true,metrics.podMonitor.enabled=true,metrics.prometheusRule.enabled=true,metrics.grafanaDashboard.enabled=true",
      ],
    ];
    for (const extra of variants) {
      const first = await template("bw", extra, "bulwark-system");
      const second = await template("bw", extra, "bulwark-system");
      expect(second === first, extra.join(" ")).toBe(true);
      // PEM in the clear or base64 ("-----BEGIN" is LS0tLS1CRUdJTi), and no caBundle field at all.
      expect(first, extra.join(" ")).not.toMatch(/BEGIN CERTIFICATE|PRIVATE KEY|LS0tLS1CRUdJTi|caBundle/);
      expect(
        documents(first)
          .filter((d) => d.kind === "Secret")
          .map((d) => d.metadata.name),
      ).toEqual([]);
    }
    // The run-time certificates: the injector keeps its Secret and the caBundle, the controller its xDS Secret.
    const docs = documents(await template("bw", [], "bulwark-system"));
    const args = (name: string): string[] =>
      (docs.find((d) => d.kind === "Deployment" && d.metadata.name === name) as { spec: { template: { spec: { containers: { args: string[] }[] } } } } | undefined)?.spec.template
        .spec.containers[0]?.args ?? [];
    expect(args("bw-bulwark-injector")).toEqual(
      expect.arrayContaining([
        "--tls-secret=bw-bulwark-injector-serving",
        "--webhook-configuration=bw-bulwark-injector",
        "--tls-dns-names=bw-bulwark-injector.bulwark-system.svc,bw-bulwark-injector.bulwark-system,bw-bulwark-injector.bulwark-system.svc.cluster.local",
      ]),
    );
    expect(args("bw-bulwark-controller")).toEqual(expect.arrayContaining(["--xds-tls-secret=bw-bulwark-controller-xds-serving"]));
  });

  it("tunes scheduling, security contexts, arguments, environment, images by digest and disruption budgets", async () => {
    type PodSpec = {
      priorityClassName?: string;
      securityContext: Record<string, unknown>;
      topologySpreadConstraints?: Record<string, unknown>[];
      containers: { args: string[]; env?: { name: string; value?: string }[]; image: string; securityContext: Record<string, unknown> }[];
    };
    const podSpec = (docs: Manifest[], name: string): PodSpec | undefined =>
      (docs.find((d) => d.kind === "Deployment" && d.metadata.name === name) as { spec: { template: { spec: PodSpec } } } | undefined)?.spec.template.spec;
    const budgets = (docs: Manifest[]): Record<string, unknown> =>
      Object.fromEntries(docs.filter((d) => d.kind === "PodDisruptionBudget").map((d) => [d.metadata.name, { ...(d.spec as Record<string, unknown>), selector: undefined }]));
    // Defaults: no uid named (OpenShift assigns one; the image runs as 65532 elsewhere), budgets that never block a drain, one authz and ratelimit replica (no Redis).
    const defaults = documents(await template("bw"));
    expect(podSpec(defaults, "bw-bulwark-controller")?.securityContext).toEqual({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
    expect(budgets(defaults)).toEqual({
      "bw-bulwark-controller": { maxUnavailable: 1 },
      "bw-bulwark-authz": { maxUnavailable: 1 },
      "bw-bulwark-ratelimit": { maxUnavailable: 1 },
      "bw-bulwark-injector": { maxUnavailable: 1 },
    });
    expect(defaults.filter((d) => d.kind === "Deployment").map((d) => [d.metadata.name, (d.spec as { replicas: number }).replicas])).toEqual([
      ["bw-bulwark-authz", 1],
      ["bw-bulwark-controller", 2],
      ["bw-bulwark-injector", 2],
      ["bw-bulwark-ratelimit", 1],
    ]);
    const full = documents(await template("bw", ["-f", join(testdata, "full-values.yaml")]));
    const controller = podSpec(full, "shield-controller");
    expect(controller?.priorityClassName).toBe("system-cluster-critical");
    expect(podSpec(full, "shield-authz")?.priorityClassName).toBe("bulwark-critical");
    // A constraint without a labelSelector spreads the component's own pods; one with it keeps it.
    expect(controller?.topologySpreadConstraints).toEqual([
      {
        maxSkew: 1,
        topologyKey: "topology.kubernetes.io/zone",
        whenUnsatisfiable: "ScheduleAnyway",
        labelSelector: { matchLabels: { "app.kubernetes.io/name": "bulwark", "app.kubernetes.io/instance": "bw", "app.kubernetes.io/component": "controller" } },
      },
    ]);
    expect(podSpec(full, "shield-injector")?.topologySpreadConstraints?.[0]?.labelSelector).toEqual({ matchLabels: { "app.kubernetes.io/component": "injector" } });
    expect(controller?.containers[0]?.args.at(-1)).toBe("--workload-cert-lifetime=6h");
    expect(controller?.containers[0]?.env?.map((e) => e.name)).toEqual(["POD_NAME", "POD_NAMESPACE", "NODE_OPTIONS"]);
    expect(podSpec(full, "shield-authz")?.containers[0]?.env?.map((e) => e.name)).toEqual(["NODE_OPTIONS", "BULWARK_DPOP_NONCE_SECRET", "GOMAXPROCS_HINT"]);
    // The data-plane services' Node.js flags are a value of their own (#19: memory against CPU).
    for (const component of ["shield-authz", "shield-ratelimit"])
      expect(podSpec(full, component)?.containers[0]?.env?.find((e) => e.name === "NODE_OPTIONS")?.value).toBe("--enable-source-maps");
    expect(controller?.containers[0]?.image).toBe("platform/bulwark@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    expect(podSpec(full, "shield-injector")?.containers[0]?.args).toContain(
      "--proxy-image=envoyproxy/envoy@sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210",
    );
    expect(controller?.securityContext).toEqual({ runAsNonRoot: true, supplementalGroups: [5000], seccompProfile: { type: "RuntimeDefault" } });
    const noSeccomp = documents(await template("bw", ["--set", "podSecurityContext.seccompProfile=null"]));
    expect(podSpec(noSeccomp, "bw-bulwark-controller")?.securityContext).toEqual({ runAsNonRoot: true });
    expect(budgets(full)).toMatchObject({ "shield-controller": { maxUnavailable: "50%" }, "shield-ratelimit": { minAvailable: 2 } });
    // The Prometheus Operator's objects need its API; the dashboard ConfigMap does not.
    for (const object of ["serviceMonitor", "podMonitor", "prometheusRule"]) {
      await expect(template("bw", ["--set", `metrics.${object}.enabled=true`])).rejects.toThrow(/need the Prometheus Operator \(the API monitoring.coreos.com\/v1 is not served/);
    }
    const monitored = documents(
      await template("bw", [
        "--api-versions",
        "monitoring.coreos.com/v1",
        "--set",
        "metrics.serviceMonitor.enabled=true,metrics.podMonitor.enabled=true,metrics.prometheusRule.enabled=true,metrics.grafanaDashboard.enabled=true",
      ]),
    );
    expect(
      monitored
        .filter((d) => ["ServiceMonitor", "PodMonitor", "PrometheusRule"].includes(d.kind) || d.metadata.name === "bw-bulwark-dashboard")
        .map((d) => d.kind)
        .sort(),
    ).toEqual(["ConfigMap", "PodMonitor", "PrometheusRule", "ServiceMonitor"]);
    expect(documents(await template("bw", ["--set", "metrics.grafanaDashboard.enabled=true"])).find((d) => d.metadata.name === "bw-bulwark-dashboard")?.metadata).toMatchObject({
      labels: { grafana_dashboard: "1" },
    });
    await expect(template("bw", ["--set", "controller.extraArgs={verbose}"])).rejects.toThrow(/extraArgs/);
    await expect(template("bw", ["--set", "image.digest=latest"])).rejects.toThrow(/digest/);
  });

  it("sets Node.js flags that Node accepts in NODE_OPTIONS (some V8 flags are refused there and the container would not start)", async () => {
    const values = parseAllDocuments(await readFile(join(chart, "values.yaml"), "utf8"))[0]?.toJSON() as Record<string, { nodeOptions?: string }>;
    for (const component of ["authz", "ratelimit"]) {
      const nodeOptions = values[component]?.nodeOptions ?? "";
      const run = await exec(process.execPath, ["-e", "process.stdout.write('started')"], { env: { ...process.env, NODE_OPTIONS: nodeOptions }, missingFix: "" }).catch(
        (error: unknown) => ({ stdout: String(error) }),
      );
      expect(run.stdout, `${component}.nodeOptions "${nodeOptions}"`).toBe("started");
    }
  });

  it("renders the same webhook selectors the injector's tests register", async () => {
    const docs = documents(await template("bw"));
    const rendered = docs.find((d) => d.kind === "MutatingWebhookConfiguration") as { webhooks: Record<string, unknown>[] } | undefined;
    const expected = webhookConfiguration({
      name: "x",
      clientConfig: { caBundle: "", service: { namespace, name: "bw-bulwark-injector", port: 443 } },
      failurePolicy: "Fail",
      excludedNamespaces: ["kube-system", "kube-node-lease", namespace],
    }) as { webhooks: Record<string, unknown>[] };
    const strip = (w: Record<string, unknown>): Record<string, unknown> => ({ ...w, clientConfig: { service: (w.clientConfig as { service: unknown }).service } });
    expect(rendered?.webhooks.map(strip)).toEqual(expected.webhooks.map(strip));
  });

  it("renders full values: golden and server-side dry run; cert-manager mode renders an Issuer, a Certificate and CA injection", async () => {
    await golden("full", await template("bw", ["-f", join(testdata, "full-values.yaml")], "bulwark-system"));
    const rendered = await template("bw", ["-f", join(testdata, "full-values.yaml")]);
    const docs = documents(rendered);
    expect(
      docs
        .filter((d) => d.kind === "HorizontalPodAutoscaler")
        .map((d) => d.metadata.name)
        .sort(),
    ).toEqual(["shield-authz", "shield-controller"]);
    expect(docs.some((d) => d.kind === "Deployment" && d.metadata.name === "shield-redis")).toBe(true);
    // A user-supplied workload CA: the controller may only read it; it creates and renews its own xDS Secret, by name.
    const role = docs.find((d) => d.kind === "Role" && d.metadata.name === "shield-controller") as
      { rules: { resources: string[]; verbs: string[]; resourceNames?: string[] }[] } | undefined;
    expect(role?.rules.filter((r) => r.resources.includes("secrets"))).toEqual([
      { apiGroups: [""], resources: ["secrets"], resourceNames: ["corp-mesh-ca"], verbs: ["get"] },
      { apiGroups: [""], resources: ["secrets"], resourceNames: ["shield-controller-xds-serving"], verbs: ["get", "update"] },
      { apiGroups: [""], resources: ["secrets"], verbs: ["create"] },
    ]);
    const out = await serverDryRun(rendered);
    // The optional NetworkPolicy: injected pods of the listed namespace admit ingress on the sidecar's inbound and probe ports only.
    const policy = docs.find((d) => d.kind === "NetworkPolicy") as { metadata: { namespace: string }; spec: unknown } | undefined;
    expect(policy?.metadata.namespace).toBe("bulwark-chart-mesh-apps");
    expect(policy?.spec).toEqual({
      podSelector: { matchLabels: { "bulwark.dev/sidecar": "injected" } },
      policyTypes: ["Ingress"],
      ingress: [
        {
          ports: [
            { port: 15001, protocol: "TCP" },
            { port: 15021, protocol: "TCP" },
          ],
        },
      ],
    });
    expect(out).toContain("networkpolicy.networking.k8s.io/shield-sidecar-inbound serverside-applied (server dry run)");
    // cert-manager's API must be served: without it the chart refuses with a message (no "no matches for kind Certificate").
    await expect(template("bw", ["--set", "injector.certificate.source=certManager"])).rejects.toThrow(
      /injector.certificate.source=certManager needs cert-manager \(the API cert-manager.io\/v1 is not served/,
    );
    await expect(template("bw", ["--set", "controller.xdsCertificate.source=certManager"])).rejects.toThrow(/controller.xdsCertificate.source=certManager needs cert-manager/);
    const certManager = documents(
      await template("bw", ["--api-versions", "cert-manager.io/v1", "--set", "injector.certificate.source=certManager", "--set", "controller.xdsCertificate.source=certManager"]),
    );
    expect(certManager.map((d) => d.kind)).toEqual(expect.arrayContaining(["Issuer", "Certificate"]));
    expect(certManager.some((d) => d.kind === "Secret")).toBe(false);
    // The xDS serving certificate names the controller's Service as sidecars reach it.
    const xdsCertificate = certManager.find((d) => d.kind === "Certificate" && d.metadata.name === "bw-bulwark-controller-xds") as
      { spec: { secretName: string; dnsNames: string[] } } | undefined;
    expect(xdsCertificate?.spec).toMatchObject({
      secretName: "bw-bulwark-controller-xds-tls",
      dnsNames: expect.arrayContaining([`bw-bulwark-controller.${namespace}.svc`]) as unknown,
    });
    expect(certManager.find((d) => d.kind === "MutatingWebhookConfiguration")?.metadata.annotations?.["cert-manager.io/inject-ca-from"]).toBe(`${namespace}/bw-bulwark-injector`);
  });

  it("inbound interception is on by default (the chart's image runs it) and can be turned off for the NetworkPolicy", async () => {
    const injectorArgs = async (values: string[]): Promise<string[]> => {
      const docs = documents(await template("bw", values));
      const deployment = docs.find((d) => d.kind === "Deployment" && d.metadata.name === "bw-bulwark-injector") as
        { spec: { template: { spec: { containers: { args: string[] }[] } } } } | undefined;
      return (deployment?.spec.template.spec.containers[0]?.args ?? []).filter((a) => /^--(inbound-interception|intercept-image|probe-port)/.test(a));
    };
    expect(await injectorArgs([])).toEqual([
      "--inbound-interception=iptables",
      "--intercept-image=bulwark:0.1.0",
      "--intercept-image-pull-policy=IfNotPresent",
      "--probe-port=15021",
    ]);
    expect(await injectorArgs(["--set", "proxy.interception.enabled=false"])).toEqual(["--inbound-interception=none"]);
    const off = documents(
      await template("bw", ["--set", "proxy.interception.enabled=false", "--set", "injector.networkPolicy.enabled=true", "--set", "injector.networkPolicy.namespaces={apps}"]),
    );
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
    await expect(template("bw", ["--set", "clientAddress.header=X-Real-IP,clientAddress.trustedHops=1,clientAddress.trustedCIDRs={10.0.0.0/8}"])).rejects.toThrow(
      /set header or trustedHops, not both/,
    );
    await expect(template("bw", ["--set", "clientAddress.trustedCIDRs={10.0.0.0/8}"])).rejects.toThrow(/trustedCIDRs needs clientAddress.trustedHops/);
  });

  it("passes the cluster-wide client address to the controller: the TCP peer by default, trusted hops from the proxies' networks when asked", async () => {
    const controllerArgs = async (extra: readonly string[]): Promise<string[]> => {
      const docs = documents(await template("bw", extra));
      const deployment = docs.find((d) => d.kind === "Deployment" && d.metadata.name === "bw-bulwark-controller") as
        { spec: { template: { spec: { containers: { args: string[] }[] } } } } | undefined;
      return (deployment?.spec.template.spec.containers[0]?.args ?? []).filter((a) => a.startsWith("--client-address"));
    };
    expect(await controllerArgs([])).toEqual(["--client-address-trusted-hops=0"]);
    expect(await controllerArgs(["--set", "clientAddress.trustedHops=2,clientAddress.trustedCIDRs={10.0.0.0/8,192.168.0.0/16}"])).toEqual([
      "--client-address-trusted-hops=2",
      "--client-address-trusted-cidrs=10.0.0.0/8,192.168.0.0/16",
    ]);
  });

  it("points authz and ratelimit at an external Redis Cluster by redis.cluster.nodes, never at the same time as redis.url", async () => {
    const redisArgs = async (extra: readonly string[]): Promise<Record<string, string[]>> => {
      const docs = documents(await template("bw", extra));
      const args = (name: string): string[] =>
        (
          (docs.find((d) => d.kind === "Deployment" && d.metadata.name === name) as { spec: { template: { spec: { containers: { args: string[] }[] } } } } | undefined)?.spec
            .template.spec.containers[0]?.args ?? []
        ).filter((a) => a.startsWith("--redis"));
      return { authz: args("bw-bulwark-authz"), ratelimit: args("bw-bulwark-ratelimit"), redis: docs.filter((d) => d.metadata.name === "bw-bulwark-redis").map((d) => d.kind) };
    };
    const nodes = "redis.cluster.nodes={redis-0.data.svc:6379,redis-1.data.svc:6379}";
    const flag = "--redis-cluster-nodes=redis-0.data.svc:6379,redis-1.data.svc:6379";
    // The cluster wins over the in-chart Redis, which is then not deployed.
    expect(await redisArgs(["--set", nodes, "--set", "redis.inChart.enabled=true"])).toEqual({ authz: [flag], ratelimit: [flag], redis: [] });
    expect(await redisArgs(["--set", "redis.url=redis://r.data.svc:6379"])).toEqual({
      authz: ["--redis-url=redis://r.data.svc:6379"],
      ratelimit: ["--redis-url=redis://r.data.svc:6379"],
      redis: [],
    });
    await expect(template("bw", ["--set", nodes, "--set", "redis.url=redis://r.data.svc:6379"])).rejects.toThrow(/redis.url and redis.cluster.nodes name two different stores/);
    await expect(template("bw", ["--set", "redis.cluster.nodes={redis-0.data.svc}"])).rejects.toThrow(/redis.cluster.nodes/);
  });
});

describe("install, least privilege, uninstall", () => {
  const sidecars: SidecarPod[] = [];

  it("installs, runs the controller with the chart's ServiceAccount token, and uninstalls keeping the CRD", async () => {
    // Ignore: the webhook's Service has no endpoints here; other suites' labelled pods must not be refused.
    const install = await helm(["install", "bw", chart, "--namespace", namespace, "--take-ownership", "--set", "injector.failurePolicy=Ignore"]);
    let installed = true;
    // The default install prints no warning of its own (one authz and ratelimit replica without Redis is consistent).
    expect(install.stdout).toContain("Bulwark 0.1.0 is installed");
    expect(install.stdout).not.toMatch(/WARNING/);
    cleanup.push(() => (installed ? helm(["uninstall", "bw", "--namespace", namespace]) : Promise.resolve()));
    const names = (await kubectl(env, ["get", "deployments,services,serviceaccounts,roles,rolebindings,poddisruptionbudgets,secrets", "-n", namespace, "-o", "name"])).stdout;
    for (const object of [
      "deployment.apps/bw-bulwark-controller",
      "deployment.apps/bw-bulwark-authz",
      "deployment.apps/bw-bulwark-ratelimit",
      "deployment.apps/bw-bulwark-injector",
      "service/bw-bulwark-controller",
      "serviceaccount/bw-bulwark-controller",
    ]) {
      expect(names).toContain(object);
    }
    // Nothing certificate-like comes from the chart: the Secrets and the caBundle are made at run time.
    expect(names.split("\n").filter((n) => n.startsWith("secret/") && !n.startsWith("secret/sh.helm.release."))).toEqual([]);
    const webhook = JSON.parse((await kubectl(env, ["get", "mutatingwebhookconfiguration", "bw-bulwark-injector", "-o", "json"])).stdout) as {
      webhooks: { clientConfig: Record<string, unknown> }[];
    };
    expect(webhook.webhooks.map((w) => Object.keys(w.clientConfig).sort())).toEqual([["service"], ["service"]]);

    // A second release, in another namespace or under another name, is refused with a message naming the first.
    const second = uniqueName("bulwark-second");
    await expect(helm(["install", "bw2", chart, "--namespace", second, "--create-namespace"])).rejects.toThrow(
      new RegExp(`Bulwark is already installed in this cluster by release bw in namespace ${namespace} \\(ClusterRole bw-bulwark-[a-z-]+\\)\\. One release per cluster`),
    );
    await expect(helm(["install", "bw", chart, "--namespace", second, "--create-namespace"])).rejects.toThrow(/already installed in this cluster by release bw/);
    cleanup.push(() => deleteNamespace(kc, second));
    // The release itself upgrades (the check spares it).
    await helm(["upgrade", "bw", chart, "--namespace", namespace, "--reuse-values"]);

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
        "pods [list watch]",
        "secrets [list watch]",
        "services [list watch]",
        // Each sidecar's xDS stream presents its pod's token, which the controller checks with TokenReview.
        "tokenreviews.authentication.k8s.io [create]",
      ].sort(),
    );
    // bulwark ratelimit reads no Secrets; bulwark authz reads them (inline JWKS) and nothing else is written by either.
    const readOnly = ["apisecuritypolicies.bulwark.dev [list watch]", "pods [list watch]", "services [list watch]"];
    expect(await canI("default", `system:serviceaccount:${namespace}:bw-bulwark-ratelimit`)).toEqual(readOnly);
    expect(await canI("default", `system:serviceaccount:${namespace}:bw-bulwark-authz`)).toEqual([...readOnly, "secrets [list watch]"].sort());
    const own = await canI(namespace);
    expect(own.filter((l) => !elsewhere.includes(l)).sort()).toEqual(
      [
        "leases.coordination.k8s.io [get list watch create update delete]",
        "secrets [get] bw-bulwark-workload-ca",
        "secrets [get update] bw-bulwark-controller-xds-serving",
        "secrets [list watch create]",
      ].sort(),
    );
    // The injector: its serving Secret (by name; create cannot be), and its own webhook configuration's caBundle; nothing elsewhere.
    const injector = `system:serviceaccount:${namespace}:bw-bulwark-injector`;
    expect(await canI(namespace, injector)).toEqual(
      ["mutatingwebhookconfigurations.admissionregistration.k8s.io [get patch] bw-bulwark-injector", "secrets [create]", "secrets [get update] bw-bulwark-injector-serving"].sort(),
    );
    expect(await canI("default", injector)).toEqual(["mutatingwebhookconfigurations.admissionregistration.k8s.io [get patch] bw-bulwark-injector"]);

    // The controller with exactly those permissions: lists everything, creates its CA, leads, writes status.
    const token = await kc
      .makeApiClient(CoreV1Api)
      .createNamespacedServiceAccountToken({ namespace, name: "bw-bulwark-controller", body: { spec: { audiences: [], expirationSeconds: 3600 } } });
    const admin = kc.getCurrentCluster();
    if (!admin || !token.status?.token) throw new Error("no cluster or token");
    const restricted = new KubeConfig();
    restricted.loadFromOptions({
      clusters: [admin],
      users: [{ name: "controller", token: token.status.token }],
      contexts: [{ name: "controller", cluster: admin.name, user: "controller" }],
      currentContext: "controller",
    });
    const dir = await mkdtemp(join(tmpdir(), "bulwark-rbac-"));
    const kubeconfig = join(dir, "kubeconfig");
    await writeFile(kubeconfig, restricted.exportConfig());
    const controller = await startMeshController(
      { ...env, kubeconfig },
      { leaseNamespace: namespace, identity: "rbac-0", trustDomain: "cluster.local", caSecret: "bw-bulwark-workload-ca" },
    );
    cleanup.push(() => controller.stop());
    const apps = uniqueName("rbac-apps");
    await createNamespace(kc, apps);
    cleanup.push(() => deleteNamespace(kc, apps));
    await createService(kc, apps, "orders", { app: "orders" });
    await kubectl(
      env,
      ["apply", "--namespace", apps],
      policyManifest(apps, "orders", { targetRefs: [{ kind: "Service", name: "orders" }], defaultAction: "Allow", tls: { mtls: "Strict" } }),
    );
    const sidecar = await startSidecarPod(env, kc, { namespace: apps, pod: "orders-0", labels: { app: "orders" }, xdsPort: controller.xdsPort, delta: true });
    sidecars.push(sidecar);
    cleanup.push(() => sidecar.stop());
    await waitFor("Programmed under the chart's RBAC", async () => (conditionOf(await getPolicy(kc, apps, "orders"), "Programmed")?.status === "True" ? true : undefined), 30_000);
    const ca = await readWorkloadCa(kc, namespace, "bw-bulwark-workload-ca", "cluster.local");
    const client = await ca.issue({ namespace: apps, serviceAccount: "client" }, new Date(), { lifetimeMs: 3600_000, renewAfter: 2 / 3 });
    const outcome = await tlsRequest({
      port: sidecar.port,
      ca: ca.trustBundlePem,
      expectServerId: `spiffe://cluster.local/ns/${apps}/sa/default`,
      cert: client.certificateChainPem,
      key: client.privateKeyPem,
    });
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
