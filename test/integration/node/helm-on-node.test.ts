/**
 * Bulwark in the topology users run, on a real node (containerd, runc, the kubelet, kube-proxy,
 * CoreDNS): `helm install` of the chart with the locally built images, Pods Ready through their
 * own probes, a backend injected by the API server's call to the webhook, traffic through its
 * Service (kube-proxy) enforced by a policy applied with kubectl, `helm test`, an upgrade and a
 * controller deletion under a request loop, and `helm uninstall`. The suite starts its own
 * cluster with a node (the other suites' cluster has no kubelet) and says in one line why it
 * skips where a node cannot run.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEnvironment, type RunningEnvironment } from "../../env/environment.js";
import { PrerequisiteError } from "../../env/errors.js";
import { importIntoNode } from "../../env/node/node.js";
import { checkNodeHost, type NodeHost } from "../../env/node/prerequisites.js";
import { consoleSteps } from "../../env/steps.js";
import {
  applyShopPolicy,
  deployShop,
  helmOn,
  installChart,
  kubectlOn,
  releaseName,
  releaseNamespace,
  repoRoot,
  requestLoop,
  serviceIp,
  shopAppPort,
  shopPods,
  shopKeys,
  shopName,
  shopNamespace,
  shopTokens,
  shopRequest,
  waitForRelease,
  waitUntilServing,
  type NodeShopContext,
  type ShopTokens,
} from "../../support/node-shop.js";
import { chartImageArchives } from "../../support/chart-images.js";

async function nodeUnavailable(): Promise<string | undefined> {
  if (process.env.KUBECONFIG) return "KUBECONFIG names an external cluster; the node suite runs on the local environment's own node";
  try {
    await checkNodeHost();
    return undefined;
  } catch (error) {
    if (error instanceof PrerequisiteError) return error.oneLine();
    throw error;
  }
}

const skipReason = await nodeUnavailable();
if (skipReason) process.stderr.write(`[node e2e] skipped: ${skipReason}\n`);

function progress(line: string): void {
  process.stderr.write(`[node e2e] ${line}\n`);
}

let running: RunningEnvironment | undefined;
let runDir: string | undefined;
let host: NodeHost;
let ctx: NodeShopContext;
let tokens: ShopTokens;
let shopAddress: string;

describe.skipIf(skipReason !== undefined)("Bulwark installed with helm on a real node", () => {
  beforeAll(async () => {
    host = await checkNodeHost();
    const dir = await mkdtemp(join(tmpdir(), "bulwark-node-e2e-"));
    runDir = dir;
    const started = Date.now();
    running = await startEnvironment({ dir, steps: consoleSteps("node e2e"), keepAlive: false, node: true });
    progress(`environment with a Ready node in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const images = await chartImageArchives(consoleSteps("node e2e"));
    const node = running.info.node;
    if (!node) throw new Error("the environment started no node");
    const importStarted = Date.now();
    await importIntoNode(node, host.tools, [images.bulwark.archive, images.envoy.archive]);
    progress(`imported ${images.bulwark.name} and ${images.envoy.name} in ${((Date.now() - importStarted) / 1000).toFixed(1)} s`);
    ctx = { env: running.info, bulwarkImage: images.bulwark.name, dir, progress };
  }, 900_000);

  afterAll(async () => {
    if (running && process.env.BULWARK_NODE_E2E_KEEP === "1") {
      progress(`kept running: KUBECONFIG=${running.info.kubeconfig}`);
      return;
    }
    await running?.stop();
    // Removed only once nothing is mounted under it any more.
    if (runDir && !readFileSync("/proc/self/mountinfo", "utf8").includes(runDir)) await rm(runDir, { recursive: true, force: true });
  }, 180_000);

  it("helm install: the controller, authz, ratelimit, injector and Redis Pods become Running and Ready through their probes", async () => {
    const started = Date.now();
    // One replica of each component but authz, which the upgrade must roll while requests flow
    // through it: eight Node.js processes starting at once on two shared cores take minutes.
    // authz answers within 2 s: the default 250 ms is a budget for a dedicated node, not for two
    // cores shared with every other suite, where a starting Pod can hold a check back longer.
    await installChart(ctx, ["--set", "controller.replicas=1", "--set", "ratelimit.replicas=1", "--set", "injector.replicas=1", "--set", "authz.timeoutMs=2000"]);
    progress(`helm install to every Deployment rolled out: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const { stdout } = await kubectlOn(ctx.env, ["get", "pods", "-n", releaseNamespace, "-o", "json"]);
    const pods = (JSON.parse(stdout) as { items: PodJson[] }).items;
    for (const component of ["controller", "authz", "ratelimit", "injector", "redis"]) {
      const mine = pods.filter((p) => p.metadata.labels["app.kubernetes.io/component"] === component);
      expect(mine.length, component).toBeGreaterThan(0);
      for (const pod of mine) {
        expect(pod.status.phase, pod.metadata.name).toBe("Running");
        expect(pod.status.conditions.find((c) => c.type === "Ready")?.status, pod.metadata.name).toBe("True");
        // Readiness comes from the chart's own probe of the container, not from a bare start.
        expect(pod.spec.containers[0]?.readinessProbe, pod.metadata.name).toBeDefined();
        expect(pod.spec.nodeName).toBe(ctx.env.node?.name);
      }
    }
    reportStartupMemory(pods);
  }, 600_000);

  it("a backend Deployment in a labelled namespace gets its sidecar because the API server called the injector", async () => {
    const keys = await shopKeys();
    tokens = await shopTokens(keys);
    await deployShop(ctx, keys);
    const { stdout } = await kubectlOn(ctx.env, ["get", "pods", "-n", shopNamespace, "-l", `app=${shopName}`, "-o", "json"]);
    const pods = (JSON.parse(stdout) as { items: PodJson[] }).items;
    expect(pods.length).toBe(2);
    for (const pod of pods) {
      // The Deployment names one container; the proxy is there because the webhook added it at admission.
      expect(pod.spec.initContainers?.map((c) => c.name)).toContain("bulwark-proxy");
      expect(pod.metadata.labels["bulwark.dev/sidecar"]).toBe("injected");
      expect(pod.status.conditions.find((c) => c.type === "Ready")?.status).toBe("True");
    }
    const { stdout: template } = await kubectlOn(ctx.env, ["get", "deployment", "-n", shopNamespace, shopName, "-o", "jsonpath={.spec.template.spec.initContainers}"]);
    expect(template.trim()).toBe("");
    const { stdout: injectorLog } = await kubectlOn(ctx.env, ["logs", "-n", releaseNamespace, "-l", "app.kubernetes.io/component=injector", "--tail=-1"]);
    expect(injectorLog).toContain("injected the sidecar");
  }, 300_000);

  it("a policy applied with kubectl is enforced on traffic through the Service (kube-proxy): 401, 403, 426, 429 and 200", async () => {
    await applyShopPolicy(ctx);
    shopAddress = await serviceIp(ctx, shopNamespace, shopName);
    await waitUntilServing(shopAddress);
    expect((await shopRequest(shopAddress, "/v1/orders")).status).toBe(401);
    expect((await shopRequest(shopAddress, "/v1/orders", { token: tokens.expired })).status).toBe(401);
    expect((await shopRequest(shopAddress, "/v1/orders", { token: tokens.noScope })).status).toBe(403);
    const ok = await shopRequest(shopAddress, "/v1/orders", { token: tokens.good });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toMatchObject({ path: "/v1/orders", user: "user-42" });
    expect((await shopRequest(shopAddress, "/v1/catalog/shoes", { app: { platform: "ios", version: "4.2.9" } })).status).toBe(426);
    expect((await shopRequest(shopAddress, "/internal/debug")).status).toBe(404);
    // Five images a minute per sidecar, two sidecars: twelve requests exceed both budgets.
    const images: number[] = [];
    for (let i = 0; i < 12; i++) images.push((await shopRequest(shopAddress, `/v1/images/${i}.jpg`)).status);
    expect(images).toContain(200);
    expect(images).toContain(429);
    progress(`through ${shopName} ${shopAddress}: images ${images.join(" ")}`);
  }, 180_000);

  it("the app's port cannot be reached except through the sidecar", async () => {
    const pods = await shopPods(ctx);
    expect(pods.length).toBe(2);
    for (const pod of pods) {
      // The app listens on every address; straight to its port, the request still meets the policy.
      const direct = await shopRequest(`${pod.ip}:${shopAppPort}`, "/v1/orders");
      expect(direct.status, `${pod.name} ${direct.body.slice(0, 80)}`).toBe(401);
      expect(direct.body).not.toContain("servedBy");
      // Allowed, it went through the sidecar: the user comes from the verified token, which only the sidecar reads.
      const allowed = await shopRequest(`${pod.ip}:${shopAppPort}`, "/v1/orders", { token: tokens.good });
      expect(allowed.status).toBe(200);
      expect(JSON.parse(allowed.body)).toMatchObject({ servedBy: pod.name, user: "user-42" });
    }
    // The init container programmed each pod before the app started, and the kubelet's probe of the app port was moved to the probe listener.
    const { stdout } = await kubectlOn(ctx.env, ["get", "pods", "-n", shopNamespace, "-l", `app=${shopName}`, "-o", "json"]);
    const items = (JSON.parse(stdout) as { items: InterceptedPodJson[] }).items.filter((p) => !p.metadata.deletionTimestamp);
    for (const pod of items) {
      expect(pod.spec.initContainers.map((c) => c.name).slice(0, 2), pod.metadata.name).toEqual(["bulwark-intercept", "bulwark-proxy"]);
      expect(pod.status.initContainerStatuses.find((c) => c.name === "bulwark-intercept")?.state.terminated, pod.metadata.name).toMatchObject({ exitCode: 0, reason: "Completed" });
      expect(pod.spec.containers[0]?.readinessProbe?.httpGet?.port, pod.metadata.name).toBe(15021);
      expect(pod.status.conditions.find((c) => c.type === "Ready")?.status, pod.metadata.name).toBe("True");
    }
  }, 60_000);

  it("a client Pod reaches the backend by its Service name (CoreDNS, kube-proxy) and the policy applies to it", async () => {
    const script = [
      `wget -q -S -O- http://${shopName}.${shopNamespace}.svc.cluster.local/v1/catalog/shoes --header 'x-app-platform: android' --header 'x-app-version: 4.5.0' 2>&1 | head -1`,
      `wget -q -S -O- http://${shopName}.${shopNamespace}.svc.cluster.local/v1/orders --header 'x-app-platform: android' --header 'x-app-version: 4.5.0' 2>&1 | head -1`,
    ].join("; ");
    await kubectlOn(ctx.env, [
      "run",
      "mobile-client",
      "-n",
      "default",
      `--image=${ctx.env.node?.images.busybox ?? ""}`,
      "--image-pull-policy=Never",
      "--restart=Never",
      "--command",
      "--",
      "sh",
      "-c",
      script,
    ]);
    await kubectlOn(ctx.env, ["wait", "-n", "default", "--for=jsonpath={.status.phase}=Succeeded", "--timeout=90s", "pod/mobile-client"]);
    const { stdout } = await kubectlOn(ctx.env, ["logs", "-n", "default", "mobile-client"]);
    expect(stdout).toMatch(/HTTP\/1\.1 200/);
    expect(stdout).toMatch(/HTTP\/1\.1 401/);
  }, 180_000);

  it("helm test passes", async () => {
    const { stdout } = await helmOn(ctx.env, ["test", releaseName, "-n", releaseNamespace, "--timeout", "120s"]);
    expect(stdout).toMatch(/Phase:\s+Succeeded/);
  }, 180_000);

  it("helm upgrade with changed values rolls the Pods without a failed request", async () => {
    const before = await podNames(releaseNamespace);
    const upgrade = (async (): Promise<void> => {
      await helmOn(ctx.env, ["upgrade", releaseName, join(repoRoot, "charts/bulwark"), "-n", releaseNamespace, "--reuse-values", "--set", "logLevel=debug"]);
      await waitForRelease(ctx);
    })();
    const loop = await requestLoop(shopAddress, "/v1/orders", upgrade, { token: tokens.good });
    await upgrade;
    const after = await podNames(releaseNamespace);
    const rolled = ["controller", "authz", "ratelimit", "injector"].filter((c) => !after.some((p) => before.includes(p) && p.includes(`-${c}-`)));
    progress(`upgrade: ${loop.total} requests, ${loop.failures.length} failed ${JSON.stringify(loop.failures.slice(0, 5))}; rolled ${rolled.join(", ")}`);
    expect(rolled).toEqual(["controller", "authz", "ratelimit", "injector"]);
    expect(loop.total).toBeGreaterThan(20);
    expect(loop.failures).toEqual([]);
  }, 600_000);

  it("deleting the controller Pods leaves traffic unaffected", async () => {
    const deletion = (async (): Promise<void> => {
      await kubectlOn(ctx.env, ["delete", "pods", "-n", releaseNamespace, "-l", "app.kubernetes.io/component=controller", "--wait=true"]);
      await kubectlOn(ctx.env, ["rollout", "status", "-n", releaseNamespace, `deployment/${releaseName}-controller`, "--timeout=180s"]);
    })();
    const loop = await requestLoop(shopAddress, "/v1/orders", deletion, { token: tokens.good });
    await deletion;
    progress(`controller deletion: ${loop.total} requests, ${loop.failures.length} failed ${JSON.stringify(loop.failures.slice(0, 5))}`);
    expect(loop.total).toBeGreaterThan(10);
    expect(loop.failures).toEqual([]);
  }, 300_000);

  it("helm uninstall keeps the CRD and the policies", async () => {
    await helmOn(ctx.env, ["uninstall", releaseName, "-n", releaseNamespace, "--wait", "--timeout", "120s"]);
    const { stdout: deployments } = await kubectlOn(ctx.env, ["get", "deployments", "-n", releaseNamespace, "-o", "name"]);
    expect(deployments.trim()).toBe("");
    await kubectlOn(ctx.env, ["get", "crd", "apisecuritypolicies.bulwark.dev"]);
    const { stdout } = await kubectlOn(ctx.env, ["get", "apisecuritypolicies", "-n", shopNamespace, "-o", "name"]);
    expect(stdout.trim()).toBe(`apisecuritypolicy.bulwark.dev/${shopName}`);
  }, 180_000);

  it("stopping the environment leaves no container, mount, network namespace or interface behind", async () => {
    const info = running?.info;
    if (!running || !info?.node) throw new Error("no node");
    const node = info.node;
    await running.stop();
    running = undefined;
    expect(existsSync(`/run/netns/${node.network.netns}`)).toBe(false);
    expect(execFileSync("ip", ["-o", "link"], { encoding: "utf8" })).not.toContain(node.network.hostInterface);
    expect(readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(node.dir);
    expect(execFileSync("ps", ["-eo", "args"], { encoding: "utf8" })).not.toContain(node.containerdSocket);
  }, 180_000);
});

interface InterceptedPodJson {
  metadata: { name: string; deletionTimestamp?: string };
  spec: { initContainers: { name: string }[]; containers: { readinessProbe?: { httpGet?: { port?: number | string } } }[] };
  status: { conditions: { type: string; status: string }[]; initContainerStatuses: { name: string; state: { terminated?: { exitCode: number; reason?: string } } }[] };
}

interface PodJson {
  metadata: { name: string; uid: string; labels: Record<string, string> };
  spec: { nodeName?: string; containers: { name: string; readinessProbe?: unknown }[]; initContainers?: { name: string }[] };
  status: { phase: string; conditions: { type: string; status: string }[]; containerStatuses?: { name: string; containerID?: string }[] };
}

/** Pods of the namespace that are not on their way out. */
async function podNames(namespace: string): Promise<string[]> {
  const { stdout } = await kubectlOn(ctx.env, ["get", "pods", "-n", namespace, "-o", "json"]);
  const pods = (JSON.parse(stdout) as { items: { metadata: { name: string; deletionTimestamp?: string } }[] }).items;
  return pods.filter((p) => !p.metadata.deletionTimestamp).map((p) => p.metadata.name);
}

/** Resident memory of each component's container just after it became Ready, from its memory cgroup (total_rss). */
function reportStartupMemory(pods: PodJson[]): void {
  const node = ctx.env.node;
  if (!node || node.cgroupVersion !== 1) return;
  const lines: string[] = [];
  for (const pod of pods) {
    for (const status of pod.status.containerStatuses ?? []) {
      const id = status.containerID?.replace(/^containerd:\/\//, "");
      if (!id) continue;
      const found = execFileSync("find", [`/sys/fs/cgroup/memory${node.cgroupRoot}`, "-type", "d", "-name", id], { encoding: "utf8" })
        .trim()
        .split("\n")[0];
      if (!found) continue;
      const rss = /^total_rss (\d+)$/m.exec(readFileSync(join(found, "memory.stat"), "utf8"))?.[1];
      lines.push(`${pod.metadata.labels["app.kubernetes.io/component"] ?? "?"} ${pod.metadata.name}: ${rss ? (Number(rss) / 1048576).toFixed(1) : "?"} MiB`);
    }
  }
  progress(`startup RSS (memory cgroup total_rss):\n  ${lines.sort().join("\n  ")}`);
}
