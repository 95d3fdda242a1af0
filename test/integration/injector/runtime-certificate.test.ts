/**
 * The injector's serving certificate made at run time (the chart's default, certificate.source
 * chart), against the real API server: `bulwark injector --tls-secret` creates its Secret (CA and
 * serving certificate) and writes the CA into a MutatingWebhookConfiguration registered with no
 * caBundle, as the chart renders it; the API server then calls the webhook over TLS and a Pod is
 * injected. A caBundle reset (a re-apply of the chart) is written back; a second replica shares
 * the Secret; a certificate that is due is renewed under the same CA and served without a restart.
 */
import { AdmissionregistrationV1Api, CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Container, type V1Pod } from "@kubernetes/client-node";
import { X509Certificate } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { connect } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROXY_CONTAINER } from "../../../injector/inject.js";
import { webhookConfiguration } from "../../../injector/webhook-configuration.js";
import { generateServingCa, issueServingCertificate } from "../../../operator/identity/serving-certificate.js";
import { freePort, startProcess, waitUntilReady, type ManagedProcess } from "../../env/processes.js";
import { createNamespace, deleteNamespace, e2eEnvironment, kubeConfig, kubectl, waitFor, type E2eEnvironment } from "../../support/e2e.js";
import { testEnvironment, uniqueName } from "../../support/environment.js";
import { servingPki } from "../../support/pki-webhook.js";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const SECRET = "bulwark-injector-serving";

let env: E2eEnvironment;
let kc: KubeConfig;
let core: CoreV1Api;
let admission: AdmissionregistrationV1Api;
let system: string;
let apps: string;
let configName: string;
let xdsCaFile: string;
const injectors: ManagedProcess[] = [];

/** The certificate a TLS server on 127.0.0.1:port presents (not verified: this reads it). */
function servedCertificate(port: number): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, rejectUnauthorized: false }, () => {
      const raw = socket.getPeerCertificate().raw;
      socket.end();
      resolve(new X509Certificate(raw));
    });
    socket.on("error", reject);
  });
}

async function startInjector(port: number, name: string, webhookConfiguration = configName): Promise<ManagedProcess> {
  const tsx = pathToFileURL(createRequire(join(repoRoot, "package.json")).resolve("tsx")).href;
  const dir = await mkdtemp(join(tmpdir(), "bulwark-injector-runtime-"));
  const proc = startProcess({
    name,
    command: process.execPath,
    args: [
      "--import",
      tsx,
      join(repoRoot, "cli/main.ts"),
      "injector",
      "--kubeconfig",
      env.kubeconfig,
      "--address",
      `127.0.0.1:${port}`,
      "--http-address",
      "127.0.0.1:0",
      "--tls-secret",
      SECRET,
      "--tls-secret-namespace",
      system,
      "--tls-dns-names",
      `127.0.0.1,bulwark-injector.${system}.svc`,
      "--webhook-configuration",
      webhookConfiguration,
      "--tls-check-interval",
      "1s",
      "--proxy-image",
      "envoyproxy/envoy:v1.40.0",
      "--xds-ca-file",
      xdsCaFile,
      "--inbound-interception",
      "none",
    ],
    logFile: join(dir, `${name}.log`),
  });
  await waitUntilReady(
    proc,
    () =>
      servedCertificate(port).then(
        () => true,
        () => false,
      ),
    60_000,
  );
  injectors.push(proc);
  return proc;
}

function podBody(name: string): V1Pod {
  return { metadata: { name }, spec: { automountServiceAccountToken: false, containers: [{ name: "app", image: "example/app:1", ports: [{ containerPort: 8080 }] }] } };
}

function proxyOf(pod: V1Pod): V1Container | undefined {
  return [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].find((c) => c.name === PROXY_CONTAINER);
}

async function caBundles(): Promise<(string | undefined)[]> {
  const config = await admission.readMutatingWebhookConfiguration({ name: configName });
  return (config.webhooks ?? []).map((w) => w.clientConfig.caBundle);
}

async function secretData(): Promise<Record<string, string>> {
  const secret = await core.readNamespacedSecret({ namespace: system, name: SECRET });
  return Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]));
}

beforeAll(async () => {
  env = e2eEnvironment(testEnvironment());
  kc = kubeConfig(env);
  core = kc.makeApiClient(CoreV1Api);
  admission = kc.makeApiClient(AdmissionregistrationV1Api);
  system = uniqueName("inject-runtime-sys");
  apps = uniqueName("inject-runtime-apps");
  await createNamespace(kc, system);
  await createNamespace(kc, apps);
  await core.patchNamespace({ name: apps, body: [{ op: "add", path: "/metadata/labels/bulwark.dev~1inject", value: "enabled" }] });
  const dir = await mkdtemp(join(tmpdir(), "bulwark-xds-ca-"));
  xdsCaFile = join(dir, "ca.crt");
  await writeFile(xdsCaFile, (await servingPki("xds")).caPem);
  configName = uniqueName("bulwark-injector-runtime");
}, 60_000);

afterAll(async () => {
  for (const name of [configName, `${configName}-late`])
    if (configName) await kubectl(env, ["delete", "mutatingwebhookconfiguration", name, "--ignore-not-found"]).catch(() => undefined);
  for (const proc of injectors) await proc.stop();
  for (const ns of [apps, system]) if (ns) await deleteNamespace(kc, ns);
});

describe("the injector's serving certificate, made and trusted at run time", () => {
  let port: number;

  it("creates its Secret, writes the caBundle the chart leaves out, and the API server's webhook call injects a Pod", async () => {
    port = await freePort();
    // As the chart renders it: no caBundle. The namespace webhook only: pods of `apps` go to it, none of another suite's.
    const rendered = webhookConfiguration({
      name: configName,
      clientConfig: { url: `https://127.0.0.1:${port}`, caBundle: "" },
      failurePolicy: "Fail",
      excludedNamespaces: ["kube-system", system],
    }) as { webhooks: Record<string, unknown>[] };
    rendered.webhooks = rendered.webhooks
      .filter((w) => w.name === "namespace.inject.bulwark.dev")
      .map((w) => ({ ...w, clientConfig: { url: (w.clientConfig as { url: string }).url } }));
    await kubectl(env, ["apply", "--server-side", "--field-manager=helm"], rendered);
    expect(await caBundles()).toEqual([undefined]);
    // Without a caBundle the API server cannot verify the webhook: an opted-in pod is refused (failurePolicy Fail).
    await expect(core.createNamespacedPod({ namespace: apps, body: podBody("before"), dryRun: "All" })).rejects.toThrow(/x509|certificate|webhook/);

    const started = Date.now();
    await startInjector(port, "injector-0");
    const data = await secretData();
    expect(Object.keys(data).sort()).toEqual(["ca.crt", "ca.key", "tls.crt", "tls.key"]);
    const leaf = new X509Certificate(data["tls.crt"] ?? "");
    expect(leaf.verify(new X509Certificate(data["ca.crt"] ?? "").publicKey)).toBe(true);
    expect(leaf.checkIP("127.0.0.1")).toBe("127.0.0.1");
    expect(leaf.checkHost(`bulwark-injector.${system}.svc`)).toBe(`bulwark-injector.${system}.svc`);
    expect((await servedCertificate(port)).fingerprint256).toBe(leaf.fingerprint256);
    expect(await caBundles()).toEqual([Buffer.from(data["ca.crt"] ?? "").toString("base64")]);
    const pod = await waitFor(
      "a Pod injected through the API server's webhook call",
      async () => (proxyOf(await core.createNamespacedPod({ namespace: apps, body: podBody("orders-0") }).catch(() => podBody("x"))) ? true : undefined),
      30_000,
      200,
    );
    expect(pod).toBe(true);
    const created = await core.readNamespacedPod({ namespace: apps, name: "orders-0" });
    expect(proxyOf(created)?.image).toBe("envoyproxy/envoy:v1.40.0");
    process.stdout.write(`injector start to first injected Pod: ${Date.now() - started} ms\n`);
  }, 120_000);

  it("writes the caBundle back when a re-apply of the chart resets it, and injection resumes", async () => {
    const other = await generateServingCa("not the injector's", new Date());
    await admission.patchMutatingWebhookConfiguration(
      { name: configName, body: [{ op: "replace", path: "/webhooks/0/clientConfig/caBundle", value: Buffer.from(other.caPem).toString("base64") }] },
      setHeaderOptions("Content-Type", PatchStrategy.JsonPatch),
    );
    const ca = (await secretData())["ca.crt"] ?? "";
    await waitFor("the caBundle written back", async () => ((await caBundles())[0] === Buffer.from(ca).toString("base64") ? true : undefined), 15_000, 100);
    await waitFor(
      "injection after the reset",
      async () => (proxyOf(await core.createNamespacedPod({ namespace: apps, body: podBody("after-reset"), dryRun: "All" })) ? true : undefined),
      15_000,
      200,
    );
  }, 60_000);

  it("a second replica serves the same certificate from the Secret without rewriting it", async () => {
    const before = await core.readNamespacedSecret({ namespace: system, name: SECRET });
    const port2 = await freePort();
    await startInjector(port2, "injector-1");
    const after = await core.readNamespacedSecret({ namespace: system, name: SECRET });
    expect(after.metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);
    expect((await servedCertificate(port2)).fingerprint256).toBe((await servedCertificate(port)).fingerprint256);
  }, 90_000);

  it("renews a certificate that is due under the same CA, and serves it without a restart", async () => {
    const data = await secretData();
    const caPem = data["ca.crt"] ?? "";
    // Issued 300 days ago: 65 of its 365 days left, less than a third.
    const old = await issueServingCertificate(
      { caPem, caKeyPem: data["ca.key"] ?? "" },
      ["127.0.0.1", `bulwark-injector.${system}.svc`],
      new Date(Date.now() - 300 * 24 * 3600_000),
    );
    const b64 = (s: string): string => Buffer.from(s).toString("base64");
    await core.patchNamespacedSecret(
      {
        namespace: system,
        name: SECRET,
        body: [
          { op: "replace", path: "/data/tls.crt", value: b64(old.certPem) },
          { op: "replace", path: "/data/tls.key", value: b64(old.keyPem) },
        ],
      },
      setHeaderOptions("Content-Type", PatchStrategy.JsonPatch),
    );
    const renewed = await waitFor(
      "the renewed certificate in the Secret",
      async () => {
        const now = await secretData();
        const leaf = new X509Certificate(now["tls.crt"] ?? "");
        return leaf.validToDate.getTime() > Date.now() + 300 * 24 * 3600_000 ? now : undefined;
      },
      20_000,
      200,
    );
    expect(renewed["ca.crt"]).toBe(caPem);
    const fingerprint = new X509Certificate(renewed["tls.crt"] ?? "").fingerprint256;
    await waitFor("the renewed certificate served", async () => ((await servedCertificate(port)).fingerprint256 === fingerprint ? true : undefined), 15_000, 200);
    expect(await caBundles()).toEqual([b64(caPem)]);
    await waitFor(
      "injection with the renewed certificate",
      async () => (proxyOf(await core.createNamespacedPod({ namespace: apps, body: podBody("after-renewal"), dryRun: "All" })) ? true : undefined),
      15_000,
      200,
    );
  }, 60_000);

  it("starts serving before its webhook configuration exists (an install creates both), and writes the caBundle once it does", async () => {
    const late = `${configName}-late`;
    const port3 = await freePort();
    await startInjector(port3, "injector-late", late);
    // No pod reaches it: a namespace selector no namespace matches.
    const config = webhookConfiguration({ name: late, clientConfig: { url: `https://127.0.0.1:${port3}`, caBundle: "" }, failurePolicy: "Ignore", excludedNamespaces: [] }) as {
      webhooks: Record<string, unknown>[];
    };
    config.webhooks = config.webhooks.map((w) => ({
      ...w,
      clientConfig: { url: (w.clientConfig as { url: string }).url },
      namespaceSelector: { matchLabels: { "bulwark.dev/never": "true" } },
      objectSelector: {},
    }));
    await kubectl(env, ["apply", "--server-side", "--field-manager=helm"], config);
    const ca = Buffer.from((await secretData())["ca.crt"] ?? "").toString("base64");
    await waitFor(
      "the caBundle written into the configuration created after the injector started",
      async () => {
        const written = (await admission.readMutatingWebhookConfiguration({ name: late })).webhooks?.map((w) => w.clientConfig.caBundle);
        return written?.length === 2 && written.every((b) => b === ca) ? true : undefined;
      },
      15_000,
      200,
    );
  }, 90_000);
});
