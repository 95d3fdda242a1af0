/**
 * Sidecar injection against the real API server: `bulwark injector` runs as a process on
 * 127.0.0.1 with a serving certificate this test makes; a MutatingWebhookConfiguration (the one
 * the chart renders, with `url` instead of a Service) points the API server at it. Pods are
 * created through the API server (nothing runs them: there is no kubelet) and read back.
 */
import { CoreV1Api, type KubeConfig, type V1Container, type V1Pod } from "@kubernetes/client-node";
import { mkdtemp, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROXY_CONTAINER } from "../../../injector/inject.js";
import { webhookConfiguration } from "../../../injector/webhook-configuration.js";
import { freePort, startProcess, waitUntilReady, type ManagedProcess } from "../../env/processes.js";
import { createNamespace, deleteNamespace, e2eEnvironment, kubeConfig, kubectl, waitFor, type E2eEnvironment } from "../../support/e2e.js";
import { validateWithEnvoy } from "../../support/envoy-validate.js";
import { testEnvironment, uniqueName } from "../../support/environment.js";
import { servingPki, type ServingPki } from "../../support/pki-webhook.js";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const IMAGE = "envoyproxy/envoy:v1.40.0";
const BULWARK_IMAGE = "bulwark:0.1.0";

let env: E2eEnvironment;
let kc: KubeConfig;
let core: CoreV1Api;
let pki: ServingPki;
let port: number;
let injector: ManagedProcess;
let configName: string;
let labelled: string;
let unlabelled: string;

function post(path: string, body: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const text = JSON.stringify(body);
    const req = request(
      { host: "127.0.0.1", port, path, method: "POST", ca: pki.caPem, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(text) } },
      (res) => {
        let data = "";
        res.setEncoding("utf8").on("data", (c: string) => (data += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: data }));
      },
    );
    req.on("error", reject);
    req.end(text);
  });
}

async function startInjector(): Promise<ManagedProcess> {
  const dir = await mkdtemp(join(tmpdir(), "bulwark-injector-"));
  await writeFile(join(dir, "tls.crt"), pki.certPem);
  await writeFile(join(dir, "tls.key"), pki.keyPem);
  await writeFile(join(dir, "xds-ca.crt"), pki.caPem);
  const tsx = pathToFileURL(createRequire(join(repoRoot, "package.json")).resolve("tsx")).href;
  const proc = startProcess({
    name: "injector",
    command: process.execPath,
    args: [
      "--import",
      tsx,
      join(repoRoot, "cli/main.ts"),
      "injector",
      "--address",
      `127.0.0.1:${port}`,
      "--http-address",
      "127.0.0.1:0",
      "--tls-cert-file",
      join(dir, "tls.crt"),
      "--tls-key-file",
      join(dir, "tls.key"),
      "--proxy-image",
      IMAGE,
      "--xds-address",
      "bulwark-controller.bulwark-system.svc:18000",
      "--xds-ca-file",
      join(dir, "xds-ca.crt"),
      "--intercept-image",
      BULWARK_IMAGE,
      "--intercept-image-pull-policy",
      "Never",
    ],
    logFile: join(dir, "injector.log"),
  });
  await waitUntilReady(
    proc,
    () =>
      new Promise<boolean>((resolve) => {
        const req = request({ host: "127.0.0.1", port, path: "/healthz", ca: pki.caPem }, (res) => {
          res.resume();
          resolve(res.statusCode === 200);
        });
        req.on("error", () => resolve(false));
        req.end();
      }),
    30_000,
  );
  return proc;
}

function podBody(name: string, extra: { labels?: Record<string, string>; annotations?: Record<string, string> } = {}): V1Pod {
  return {
    metadata: { name, ...(extra.labels ? { labels: extra.labels } : {}), ...(extra.annotations ? { annotations: extra.annotations } : {}) },
    spec: {
      automountServiceAccountToken: false,
      containers: [{ name: "app", image: "example/app:1", ports: [{ name: "http", containerPort: 8080 }], readinessProbe: { httpGet: { path: "/ready", port: "http" } } }],
    },
  };
}

function proxyOf(pod: V1Pod): V1Container | undefined {
  return [...(pod.spec?.initContainers ?? []), ...pod.spec!.containers].find((c) => c.name === PROXY_CONTAINER);
}

beforeAll(async () => {
  env = e2eEnvironment(testEnvironment());
  kc = kubeConfig(env);
  core = kc.makeApiClient(CoreV1Api);
  pki = await servingPki("bulwark-injector");
  port = await freePort();
  injector = await startInjector();
  labelled = uniqueName("inject-on");
  unlabelled = uniqueName("inject-off");
  await createNamespace(kc, labelled);
  await createNamespace(kc, unlabelled);
  await core.patchNamespace({ name: labelled, body: [{ op: "add", path: "/metadata/labels/bulwark.dev~1inject", value: "enabled" }] });
  configName = uniqueName("bulwark-injector-test");
  const config = webhookConfiguration({
    name: configName,
    clientConfig: { url: `https://127.0.0.1:${port}`, caBundle: Buffer.from(pki.caPem).toString("base64") },
    failurePolicy: "Fail",
    excludedNamespaces: ["kube-system"],
  });
  await kubectl(env, ["apply", "--server-side", "--field-manager=bulwark-tests"], config);
  // The API server picks a new webhook configuration up within moments: wait for a dry run to be injected.
  await waitFor(
    "the webhook to be in force",
    async () => {
      const pod = await core.createNamespacedPod({ namespace: labelled, body: podBody("probe"), dryRun: "All" });
      return proxyOf(pod) ? true : undefined;
    },
    30_000,
    200,
  );
}, 120_000);

afterAll(async () => {
  if (configName) await kubectl(env, ["delete", "mutatingwebhookconfiguration", configName, "--ignore-not-found"]).catch(() => undefined);
  await injector?.stop();
  for (const ns of [labelled, unlabelled]) if (ns) await deleteNamespace(kc, ns);
});

describe("sidecar injection through the API server", () => {
  let injected: V1Pod;

  it("injects a pod of a labelled namespace: native Envoy sidecar, annotations, downward-API identity", async () => {
    injected = await core.createNamespacedPod({ namespace: labelled, body: podBody("orders-0", { annotations: { "bulwark.dev/egress-proxy": "enabled" } }) });
    const proxy = proxyOf(injected);
    expect(proxy).toBeDefined();
    // Interception first (the API server accepted its capabilities), then the sidecar.
    expect(injected.spec?.initContainers?.map((c) => c.name)).toEqual(["bulwark-intercept", PROXY_CONTAINER]);
    const intercept = injected.spec?.initContainers?.[0];
    expect(intercept?.image).toBe(BULWARK_IMAGE);
    expect(intercept?.imagePullPolicy).toBe("Never");
    expect(intercept?.args).toEqual(["intercept", "--app-port", "8080", "--sidecar-port", "15006", "--proxy-uid", "101"]);
    expect(intercept?.securityContext).toMatchObject({ runAsUser: 0, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"], add: ["NET_ADMIN", "NET_RAW"] } });
    expect(injected.metadata?.annotations).toMatchObject({ "bulwark.dev/inbound-interception": "iptables" });
    // The kubelet's probe of the app port goes to the sidecar's probe listener.
    expect(injected.spec?.containers[0]?.readinessProbe?.httpGet).toMatchObject({ path: "/ready", port: 15021 });
    expect(proxy?.restartPolicy).toBe("Always");
    expect(proxy?.image).toBe(IMAGE);
    expect(proxy?.ports).toEqual([
      { name: "bulwark-inbound", containerPort: 15006, protocol: "TCP" },
      { name: "bulwark-probes", containerPort: 15021, protocol: "TCP" },
    ]);
    expect(proxy?.resources).toEqual({ requests: { cpu: "50m", memory: "64Mi" }, limits: { memory: "256Mi" } });
    expect(proxy?.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } });
    expect(proxy?.env?.find((e) => e.name === "POD_NAME")?.valueFrom?.fieldRef?.fieldPath).toBe("metadata.name");
    expect(injected.metadata?.annotations).toMatchObject({ "bulwark.dev/sidecar-port": "15006", "bulwark.dev/app-port": "8080", "bulwark.dev/outbound-port": "15001" });
    expect(injected.metadata?.labels).toMatchObject({ "bulwark.dev/sidecar": "injected" });
    expect(injected.spec?.containers.map((c) => c.name)).toEqual(["app"]);
    // The pod asked for it: the app uses the sidecar's egress proxy for plain HTTP.
    expect(injected.spec?.containers[0]?.env).toEqual(
      expect.arrayContaining([
        { name: "HTTP_PROXY", value: "http://127.0.0.1:15001" },
        { name: "NO_PROXY", value: "localhost,127.0.0.1,::1" },
      ]),
    );
  });

  it("the injected bootstrap, with the kubelet's $(VAR) expansion, names the pod and is accepted by Envoy", async () => {
    const args = proxyOf(injected)?.args ?? [];
    const index = args.indexOf("--config-yaml");
    const values: Record<string, string> = { POD_NAME: "orders-0", POD_NAMESPACE: labelled, SERVICE_ACCOUNT: "default" };
    const expanded = (args[index + 1] ?? "").replace(/\$\(([A-Z_]+)\)/g, (_m, name: string) => values[name] ?? "");
    const bootstrap = JSON.parse(expanded) as { node: { id: string; cluster: string } };
    expect(bootstrap.node.id).toBe(`orders-0.${labelled}`);
    expect(bootstrap.node.cluster).toBe(`${labelled}/default`);
    expect(await validateWithEnvoy(bootstrap)).toEqual({ accepted: true });
    // The token the kubelet projects for the proxy: Bulwark's audience, bound to the pod, short-lived, mounted into the proxy only.
    expect(injected.spec?.volumes).toContainEqual({
      name: "bulwark-xds-token",
      projected: { defaultMode: 420, sources: [{ serviceAccountToken: { audience: "bulwark.dev/xds", expirationSeconds: 600, path: "token" } }] },
    });
    expect(proxyOf(injected)?.volumeMounts).toContainEqual({ name: "bulwark-xds-token", mountPath: "/var/run/secrets/bulwark.dev/xds", readOnly: true });
    expect(injected.spec?.containers[0]?.volumeMounts ?? []).not.toContainEqual(expect.objectContaining({ name: "bulwark-xds-token" }));
  });

  it("is idempotent: re-admitting the injected pod changes nothing", async () => {
    const answer = await post("/mutate-pods", {
      apiVersion: "admission.k8s.io/v1",
      kind: "AdmissionReview",
      request: { uid: "again", kind: { kind: "Pod" }, operation: "CREATE", namespace: labelled, object: injected },
    });
    expect(JSON.parse(answer.body)).toEqual({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response: { uid: "again", allowed: true } });
    // Through the API server: the injected spec, created again, comes back the same.
    const again = await core.createNamespacedPod({
      namespace: labelled,
      body: { metadata: { name: "orders-1", annotations: injected.metadata?.annotations ?? {} }, spec: { ...injected.spec!, nodeName: undefined } },
    });
    expect(again.spec?.initContainers).toEqual(injected.spec?.initContainers);
    expect(again.metadata?.annotations).toEqual(injected.metadata?.annotations);
  });

  it("leaves a pod that opts out by annotation alone", async () => {
    const pod = await core.createNamespacedPod({ namespace: labelled, body: podBody("legacy", { annotations: { "bulwark.dev/inject": "false" } }) });
    expect(proxyOf(pod)).toBeUndefined();
    expect(pod.metadata?.annotations?.["bulwark.dev/sidecar-port"]).toBeUndefined();
  });

  it("leaves pods of an unlabelled namespace untouched, and injects a pod labelled there", async () => {
    const plain = await core.createNamespacedPod({ namespace: unlabelled, body: podBody("plain") });
    expect(proxyOf(plain)).toBeUndefined();
    expect(plain.spec?.initContainers ?? []).toEqual([]);
    const opted = await core.createNamespacedPod({ namespace: unlabelled, body: podBody("opted", { labels: { "bulwark.dev/inject": "enabled" } }) });
    expect(proxyOf(opted)).toBeDefined();
  });

  it("the trade-off: a namespace enforcing Pod Security baseline refuses an intercepted pod (NET_ADMIN, NET_RAW), saying so", async () => {
    const strict = uniqueName("inject-baseline");
    await createNamespace(kc, strict);
    try {
      await core.patchNamespace({
        name: strict,
        body: [
          { op: "add", path: "/metadata/labels/bulwark.dev~1inject", value: "enabled" },
          { op: "add", path: "/metadata/labels/pod-security.kubernetes.io~1enforce", value: "baseline" },
        ],
      });
      const refusal = await core.createNamespacedPod({ namespace: strict, body: podBody("refused") }).then(
        () => "created",
        (error: unknown) => String(error).replace(/\\/g, ""),
      );
      expect(refusal).toMatch(/HTTP-Code: 403/);
      expect(refusal).toContain('violates PodSecurity "baseline:latest": non-default capabilities (container "bulwark-intercept" must not include "NET_ADMIN", "NET_RAW"');
    } finally {
      await deleteNamespace(kc, strict);
    }
  });

  it("with the injector down: a pod of an unlabelled namespace is created (never sent to the webhook); an opted-in one is refused (failurePolicy Fail)", async () => {
    await injector.stop();
    const plain = await core.createNamespacedPod({ namespace: unlabelled, body: podBody("while-down") });
    expect(proxyOf(plain)).toBeUndefined();
    await expect(core.createNamespacedPod({ namespace: labelled, body: podBody("while-down") })).rejects.toThrow(/bulwark\.dev|webhook/);
  });
});
