/**
 * Bulwark as users run it, on the local environment's real node: `helm install` of the chart with
 * the locally built images, the demo's mobile backend as a Deployment in a namespace labelled for
 * injection, and the demo policy. Shared by the node end-to-end suite and `npm run demo -- --node`.
 */
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import type { EnvironmentInfo } from "../env/environment.js";
import { exec, type ExecResult } from "../env/exec.js";
import { sleep } from "../env/processes.js";

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
export const releaseName = "bulwark";
export const releaseNamespace = "bulwark-system";
export const shopNamespace = "bulwark-demo";
export const shopName = "mobile-shop";
export const shopAppPort = 8080;
export const components = ["controller", "authz", "ratelimit", "injector", "redis"] as const;

export interface NodeShopContext {
  env: EnvironmentInfo;
  /** The bulwark image (the chart's default name), for the backend's Node.js runtime. */
  bulwarkImage: string;
  dir: string;
  progress: (line: string) => void;
}

export function kubectlOn(env: EnvironmentInfo, args: readonly string[]): Promise<ExecResult> {
  return exec(env.binaries.kubectl, ["--kubeconfig", env.kubeconfig, ...args], { missingFix: "run `npm run env -- provision`" });
}

export function helmOn(env: EnvironmentInfo, args: readonly string[]): Promise<ExecResult> {
  return exec(env.binaries.helm, ["--kubeconfig", env.kubeconfig, ...args], { missingFix: "run `npm run env -- provision`" });
}

/** Values that point the chart at the node's local images; everything else is the chart's default. */
export function localImageValues(env: EnvironmentInfo): string[] {
  const node = env.node;
  if (!node) throw new Error("the environment has no node");
  const [redisRepository, redisTag] = node.images.redis.split(/:(?=[^:]+$)/);
  return [
    "--set",
    "image.pullPolicy=Never",
    "--set",
    "proxy.image.pullPolicy=Never",
    "--set",
    "redis.inChart.enabled=true",
    "--set",
    `redis.inChart.image.repository=${redisRepository ?? ""}`,
    "--set",
    `redis.inChart.image.tag=${redisTag ?? ""}`,
    "--set",
    "redis.inChart.image.pullPolicy=Never",
    "--set",
    `tests.image=${node.images.busybox}`,
  ];
}

/** Waits until every Deployment of the release has rolled out (new Pods Running and Ready through their probes). */
export async function waitForRelease(ctx: NodeShopContext, timeoutSeconds = 240): Promise<void> {
  for (const component of components) {
    const started = Date.now();
    await kubectlOn(ctx.env, ["rollout", "status", "-n", releaseNamespace, `deployment/${releaseName}-${component}`, `--timeout=${timeoutSeconds}s`]).catch(
      async (error: unknown) => {
        const { stdout } = await kubectlOn(ctx.env, ["get", "pods", "-n", releaseNamespace, "-o", "wide"]);
        const { stdout: events } = await kubectlOn(ctx.env, ["get", "events", "-n", releaseNamespace, "--sort-by=.lastTimestamp"]);
        throw new Error(`${String(error)}\n${stdout}\n${events.split("\n").slice(-25).join("\n")}`);
      },
    );
    ctx.progress(`${releaseName}-${component} rolled out (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  }
}

export async function installChart(ctx: NodeShopContext, extra: readonly string[] = []): Promise<void> {
  await helmOn(ctx.env, ["install", releaseName, join(repoRoot, "charts/bulwark"), "-n", releaseNamespace, "--create-namespace", ...localImageValues(ctx.env), ...extra]);
  await waitForRelease(ctx);
}

/** The demo's backend: answers every path with JSON naming the Pod. It listens on every address, as most apps do: only interception keeps its port behind the sidecar. */
const backendSource = `
const http = require("node:http");
const name = process.env.POD_NAME;
http.createServer((req, res) => {
  const body = JSON.stringify({ servedBy: name, path: req.url, user: req.headers["x-user-id"] ?? null, items: Array.from({ length: 20 }, (_, i) => "item-" + i) });
  res.writeHead(200, { "content-type": "application/json" }).end(body);
}).listen(${shopAppPort});
process.on("SIGTERM", () => process.exit(0));
`;

export interface ShopKeys {
  privateKey: Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];
  jwks: { keys: Record<string, unknown>[] };
}

export async function shopKeys(): Promise<ShopKeys> {
  const { privateKey, publicKey } = await generateKeyPair("ES256");
  return { privateKey, jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: "demo-1", alg: "ES256", use: "sig" }] } };
}

/** The sample mobile backend: a namespace labelled for injection, the IdP's keys, a Deployment of two Pods and its Service. */
export async function deployShop(ctx: NodeShopContext, keys: ShopKeys): Promise<void> {
  const labels = { app: shopName };
  const objects = [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: shopNamespace, labels: { "bulwark.dev/inject": "enabled" } } },
    { apiVersion: "v1", kind: "Secret", metadata: { name: "demo-idp-jwks", namespace: shopNamespace }, stringData: { "jwks.json": JSON.stringify(keys.jwks) } },
    { apiVersion: "v1", kind: "ConfigMap", metadata: { name: `${shopName}-app`, namespace: shopNamespace }, data: { "server.js": backendSource } },
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: shopName, namespace: shopNamespace, labels },
      spec: {
        replicas: 2,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            securityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: "RuntimeDefault" } },
            containers: [
              {
                name: "app",
                image: ctx.bulwarkImage,
                imagePullPolicy: "Never",
                command: ["node", "/srv/server.js"],
                env: [{ name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }],
                ports: [{ name: "http", containerPort: shopAppPort }],
                // Of the app port: the injector rewrites it to the sidecar's probe listener, so the kubelet does not meet the policy.
                readinessProbe: { httpGet: { path: "/healthz", port: "http" }, periodSeconds: 2 },
                resources: { requests: { cpu: "20m", memory: "32Mi" }, limits: { memory: "128Mi" } },
                securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
                volumeMounts: [{ name: "app", mountPath: "/srv", readOnly: true }],
              },
            ],
            volumes: [{ name: "app", configMap: { name: `${shopName}-app` } }],
          },
        },
      },
    },
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: shopName, namespace: shopNamespace },
      spec: { selector: labels, ports: [{ name: "http", port: 80, targetPort: "bulwark-inbound" }] },
    },
  ];
  const file = join(ctx.dir, "mobile-shop.yaml");
  await writeFile(file, objects.map((o) => stringify(o)).join("---\n"));
  await kubectlOn(ctx.env, ["apply", "-f", file]);
  await kubectlOn(ctx.env, ["rollout", "status", "-n", shopNamespace, `deployment/${shopName}`, "--timeout=180s"]);
}

/** Applies the demo policy (scripts/demo/policy.yaml) with kubectl and waits until it is Ready on the sidecars. */
export async function applyShopPolicy(ctx: NodeShopContext): Promise<void> {
  await kubectlOn(ctx.env, ["apply", "-f", join(repoRoot, "scripts/demo/policy.yaml")]);
  await kubectlOn(ctx.env, ["wait", "-n", shopNamespace, "--for=condition=Ready", "--timeout=120s", `apisecuritypolicy/${shopName}`]);
}

export interface ShopPod {
  name: string;
  ip: string;
}

export async function shopPods(ctx: NodeShopContext): Promise<ShopPod[]> {
  const { stdout } = await kubectlOn(ctx.env, ["get", "pods", "-n", shopNamespace, "-l", `app=${shopName}`, "--field-selector=status.phase=Running", "-o", "json"]);
  const list = JSON.parse(stdout) as { items: { metadata: { name: string; deletionTimestamp?: string }; status: { podIP?: string } }[] };
  return list.items.filter((p) => !p.metadata.deletionTimestamp && p.status.podIP).map((p) => ({ name: p.metadata.name, ip: p.status.podIP ?? "" }));
}

export async function serviceIp(ctx: NodeShopContext, namespace: string, name: string): Promise<string> {
  const { stdout } = await kubectlOn(ctx.env, ["get", "service", "-n", namespace, name, "-o", "jsonpath={.spec.clusterIP}"]);
  return stdout.trim();
}

export interface ShopTokens {
  good: string;
  expired: string;
  noScope: string;
  longLived: string;
}

export async function shopTokens(keys: ShopKeys): Promise<ShopTokens> {
  const now = Math.floor(Date.now() / 1000);
  const token = (claims: Record<string, unknown>, issuedAt: number, ttl: number): Promise<string> =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: "ES256", kid: "demo-1" })
      .setIssuer("https://id.demo.bulwark.dev/")
      .setAudience("mobile-shop")
      .setSubject("user-42")
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + ttl)
      .sign(keys.privateKey);
  return {
    good: await token({ scope: "orders:read profile" }, now, 600),
    expired: await token({ scope: "orders:read" }, now - 1200, 600),
    noScope: await token({ scope: "profile" }, now, 600),
    longLived: await token({ scope: "orders:read" }, now, 86_400),
  };
}

export interface ShopResponse {
  status: number;
  body: string;
  headers: Headers;
}

/** One request of the mobile app, from the host to `http://<address>/<path>` (a ClusterIP through kube-proxy, or a Pod's sidecar). */
export async function shopRequest(
  address: string,
  path: string,
  options: { token?: string; app?: { platform: string; version: string }; timeoutMs?: number } = {},
): Promise<ShopResponse> {
  const app = options.app ?? { platform: "ios", version: "4.3.1" };
  const response = await fetch(`http://${address}${path}`, {
    headers: {
      "accept-encoding": "br, gzip",
      "x-app-platform": app.platform,
      "x-app-version": app.version,
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
    },
    signal: AbortSignal.timeout(options.timeoutMs ?? 5000),
  });
  return { status: response.status, body: await response.text(), headers: response.headers };
}

/** Waits until the public catalog answers 200 through `address` (authz has the policy's routes, sidecars are programmed). */
export async function waitUntilServing(address: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  for (;;) {
    try {
      const response = await shopRequest(address, "/v1/catalog/warmup");
      if (response.status === 200) return;
      last = `${response.status} ${response.body.slice(0, 120)}`;
    } catch (error) {
      last = String(error);
    }
    if (Date.now() > deadline) throw new Error(`${address} did not serve the catalog within ${timeoutMs / 1000} s (last: ${last})`);
    await sleep(250);
  }
}

export interface RequestLoopResult {
  total: number;
  failures: { at: number; status: number | string }[];
}

/**
 * Sends requests through `address` back to back (at most one every `intervalMs`) until `stop`
 * resolves, counting every answer that is not 200. Bounded: it stops by itself after `maxMs`.
 */
export async function requestLoop(
  address: string,
  path: string,
  stop: Promise<unknown>,
  options: { intervalMs?: number; maxMs?: number; token?: string } = {},
): Promise<RequestLoopResult> {
  let done = false;
  void stop.finally(() => (done = true));
  const started = Date.now();
  const result: RequestLoopResult = { total: 0, failures: [] };
  while (!done && Date.now() - started < (options.maxMs ?? 300_000)) {
    const at = Date.now() - started;
    try {
      const response = await shopRequest(address, path, { timeoutMs: 10_000, ...(options.token ? { token: options.token } : {}) });
      if (response.status !== 200)
        result.failures.push({ at, status: `${response.status} ${response.body.slice(0, 80)} ${response.headers.get("x-bulwark-reason") ?? ""}`.trim() });
    } catch (error) {
      result.failures.push({ at, status: String(error) });
    }
    result.total++;
    await sleep(options.intervalMs ?? 50);
  }
  return result;
}
