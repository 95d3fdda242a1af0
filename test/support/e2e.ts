/**
 * Fixtures for end-to-end tests and benchmarks of the controller: the controller as a separate
 * process, real Envoy sidecars (the bootstrap Bulwark generates) in front of a tiny HTTP app,
 * the Pod/Service/Secret objects that make them sidecars of a workload, and signed tokens.
 *
 * Nothing here reads the vitest context, so benchmarks can use it too: pass the paths of the
 * environment (see `e2eEnvironment`).
 */
import { CoordinationV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions, type CoreV1Event } from "@kubernetes/client-node";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from "jose";
import { mkdtemp, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { stringify } from "yaml";
import { group, plural, version, type PolicyStatus } from "../../operator/api/v1alpha1/policy.js";
import { SidecarAnnotation } from "../../operator/resolve/objects.js";
import { sidecarArgs, sidecarBootstrap } from "../../envoy/bootstrap/sidecar-bootstrap.js";
import type { EnvironmentInfo } from "../env/environment.js";
import { exec, type ExecResult } from "../env/exec.js";
import { freePort, isAlive, killGroup, sleep, startProcess, waitUntilReady, type ManagedProcess } from "../env/processes.js";
import { sidecarXds, xdsServingArgs } from "./xds-credentials.js";
import { httpRequest, startJsonServer, type HttpAnswer } from "./http.js";

export { httpRequest, trafficLoop, type HttpAnswer, type TrafficReport } from "./http.js";
import { waitFor } from "./poll.js";

export { waitFor };

/** Where the tools of the environment are. */
export interface E2eEnvironment {
  kubeconfig: string;
  envoy: string;
  kubectl: string;
}

export function e2eEnvironment(info: EnvironmentInfo): E2eEnvironment {
  return { kubeconfig: info.kubeconfig, envoy: info.binaries.envoy, kubectl: info.binaries.kubectl };
}

export function kubeConfig(env: E2eEnvironment): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(env.kubeconfig);
  return kc;
}

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

// ---------------------------------------------------------------------------------------------
// HTTP on loopback

/**
 * A request as a proxy-aware HTTP client sends it through HTTP_PROXY: absolute-form target
 * (`GET http://orders.shop.svc.cluster.local/path`) to the proxy on 127.0.0.1.
 */
export function proxyRequest(proxyPort: number, url: string, options: { headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<HttpAnswer> {
  return httpRequest(proxyPort, url, { headers: { host: new URL(url).host, ...options.headers }, ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}) });
}

/** A tiny application on 127.0.0.1: answers 200 with JSON naming itself, the path and x-user-id. */
export interface TinyApp {
  port: number;
  /** Requests that reached the app (past the sidecar). */
  requests: number;
  close(): Promise<void>;
}

export function startTinyApp(name: string): Promise<TinyApp> {
  return startJsonServer((req) => ({ app: name, path: req.url, user: req.headers["x-user-id"] ?? null }));
}

// ---------------------------------------------------------------------------------------------
// The controller as a process

export interface ControllerOptions {
  leaseNamespace: string;
  leaseName?: string;
  identity: string;
  /** Reuse a port (a restarted controller must be where its sidecars connect); a free one otherwise. */
  xdsPort?: number;
  httpPort?: number;
  logLevel?: string;
  /** Directory for the log; a new temporary one otherwise. */
  dir?: string;
  /** Wait for /readyz (default true). */
  waitReady?: boolean;
  /** More flags, e.g. `--authz-address` or the workload CA's. */
  extraArgs?: string[];
  /** The compiled CLI (dist/cli/main.js, bench/compiled-cli.ts) run under plain node, as production runs it; cli/main.ts under tsx otherwise. */
  compiledCli?: string;
}

export interface ControllerProcess extends BulwarkProcess {
  identity: string;
  xdsPort: number;
}

export function tsxLoader(): string {
  return pathToFileURL(createRequire(join(repoRoot, "package.json")).resolve("tsx")).href;
}

/** Parses Prometheus text and sums the samples of `name` whose labels include `labels`. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  let sum: number | undefined;
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = new Map([...(m[3] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (!Object.entries(labels).every(([k, v]) => have.get(k) === v)) continue;
    sum = (sum ?? 0) + Number(m[4]);
  }
  return sum;
}

/** A `bulwark` subcommand running as its own process, with its health/metrics server on loopback. */
export interface BulwarkProcess {
  httpPort: number;
  process: ManagedProcess;
  logFile: string;
  /** GET on the health/metrics server. */
  get(path: string): Promise<HttpAnswer>;
  /** Prometheus text of /metrics. */
  metrics(): Promise<string>;
  /** Sum of the samples of a Prometheus metric (with the given labels); undefined when absent. */
  metric(name: string, labels?: Record<string, string>): Promise<number | undefined>;
  /** kill -9 of its process group: no cleanup (no Lease release), and wait until it is gone. */
  kill(): Promise<void>;
  /** SIGTERM and wait (SIGKILL after 5 s). */
  stop(): Promise<void>;
}

/**
 * Starts `bulwark <command> <args…> --http-address 127.0.0.1:<free port>` (node --import tsx
 * cli/main.ts), logging to `logFile` (in a fresh temporary directory by default), and
 * waits until `probe` answers 200 (none: no wait). A process that does not get there is stopped.
 */
export async function startBulwark(options: {
  command: "controller" | "authz" | "ratelimit" | "injector";
  name: string;
  args: string[];
  logFile?: string;
  httpPort?: number;
  probe?: "/readyz" | "/healthz" | "none";
  nodeOptions?: string;
  /** The compiled CLI (dist/cli/main.js) run under plain node; cli/main.ts under tsx otherwise. */
  compiledCli?: string;
}): Promise<BulwarkProcess> {
  const logFile = options.logFile ?? join(await mkdtemp(join(tmpdir(), `bulwark-${options.command}-`)), `${options.command}.log`);
  const httpPort = options.httpPort ?? (await freePort());
  const proc = startProcess({
    name: options.name,
    command: process.execPath,
    args: [
      ...(options.compiledCli ? [options.compiledCli] : ["--import", tsxLoader(), join(repoRoot, "cli/main.ts")]),
      options.command,
      ...options.args,
      "--http-address",
      `127.0.0.1:${httpPort}`,
    ],
    logFile,
    ...(options.nodeOptions ? { env: { ...process.env, NODE_OPTIONS: options.nodeOptions } } : {}),
  });
  const get = (path: string): Promise<HttpAnswer> => httpRequest(httpPort, path, { timeoutMs: 5000 });
  const metrics = async (): Promise<string> => {
    const answer = await get("/metrics");
    if (answer.status !== 200) throw new Error(`/metrics answered ${answer.status}`);
    return answer.body;
  };
  const started: BulwarkProcess = {
    httpPort,
    process: proc,
    logFile,
    get,
    metrics,
    metric: async (name, labels) => metricValue(await metrics(), name, labels),
    async kill(): Promise<void> {
      killGroup(proc.pid, "SIGKILL");
      while (isAlive(proc.pid)) await sleep(10);
    },
    stop: () => proc.stop(),
  };
  const probe = options.probe ?? "/readyz";
  if (probe !== "none") {
    try {
      await waitUntilReady(proc, async () => (await get(probe).catch(() => ({ status: 0 }))).status === 200, 60_000);
    } catch (error) {
      await proc.stop();
      throw error;
    }
  }
  return started;
}

/** Starts `bulwark controller` and waits for /readyz. */
export async function startController(env: E2eEnvironment, options: ControllerOptions): Promise<ControllerProcess> {
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), "bulwark-controller-")));
  const xdsPort = options.xdsPort ?? (await freePort());
  const started = await startBulwark({
    command: "controller",
    name: `controller ${options.identity}`,
    logFile: join(dir, `controller-${options.identity}.log`),
    ...(options.httpPort !== undefined ? { httpPort: options.httpPort } : {}),
    probe: (options.waitReady ?? true) ? "/readyz" : "none",
    ...(options.compiledCli ? { compiledCli: options.compiledCli } : {}),
    args: [
      "--kubeconfig",
      env.kubeconfig,
      "--xds-address",
      `127.0.0.1:${xdsPort}`,
      "--lease-namespace",
      options.leaseNamespace,
      "--lease-name",
      options.leaseName ?? "bulwark-controller",
      "--identity",
      options.identity,
      "--log-level",
      options.logLevel ?? "info",
      ...(options.extraArgs?.includes("--xds-tls-cert") ? [] : await xdsServingArgs()),
      ...(options.extraArgs ?? []),
    ],
  });
  return { ...started, identity: options.identity, xdsPort };
}

// ---------------------------------------------------------------------------------------------
// Kubernetes objects

/** Creates a namespace and waits until pods can be created in it (its `default` ServiceAccount exists). */
export async function createNamespace(kc: KubeConfig, name: string): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name } } });
  await waitFor(`ServiceAccount ${name}/default`, async () => ((await core.readNamespacedServiceAccount({ namespace: name, name: "default" })) ? true : undefined), 30_000);
}

export async function deleteNamespace(kc: KubeConfig, name: string): Promise<void> {
  await kc
    .makeApiClient(CoreV1Api)
    .deleteNamespace({ name })
    .catch(() => undefined);
}

export async function createService(kc: KubeConfig, namespace: string, name: string, selector: Record<string, string>): Promise<void> {
  await kc.makeApiClient(CoreV1Api).createNamespacedService({
    namespace,
    body: { metadata: { name, namespace }, spec: { selector, ports: [{ name: "http", port: 80, targetPort: "bulwark-inbound" }] } },
  });
}

/**
 * A Pod object (nothing runs it: there is no kubelet) with the sidecar annotations, and, as a
 * kubelet would write it, 127.0.0.1 as its IP (every sidecar of a test runs on this host, told
 * apart by port). Sidecars that run a real Envoy name their own egress port (`outboundPort`):
 * on one host they cannot all use 15001.
 */
export async function createSidecarPod(
  kc: KubeConfig,
  options: { namespace: string; name: string; labels: Record<string, string>; sidecarPort: number; appPort: number; outboundPort?: number; annotations?: Record<string, string> },
): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  const outbound: Record<string, string> = options.outboundPort !== undefined ? { [SidecarAnnotation.outboundPort]: String(options.outboundPort) } : {};
  await core.createNamespacedPod({
    namespace: options.namespace,
    body: {
      metadata: {
        name: options.name,
        namespace: options.namespace,
        labels: options.labels,
        annotations: {
          [SidecarAnnotation.sidecarPort]: String(options.sidecarPort),
          [SidecarAnnotation.appPort]: String(options.appPort),
          ...outbound,
          ...options.annotations,
        },
      },
      spec: { automountServiceAccountToken: false, containers: [{ name: "app", image: "registry.invalid/bulwark-e2e-app:1" }] },
    },
  });
  await core.patchNamespacedPodStatus(
    { namespace: options.namespace, name: options.name, body: { status: { podIP: "127.0.0.1", podIPs: [{ ip: "127.0.0.1" }], conditions: [{ type: "Ready", status: "True" }] } } },
    setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
  );
}

export async function createSecret(kc: KubeConfig, namespace: string, name: string, stringData: Record<string, string>): Promise<void> {
  await kc.makeApiClient(CoreV1Api).createNamespacedSecret({ namespace, body: { metadata: { name, namespace }, stringData } });
}

export interface PolicyObject {
  metadata: { name: string; namespace: string; generation: number; uid: string; resourceVersion: string; creationTimestamp: string };
  spec: Record<string, unknown>;
  status?: PolicyStatus;
}

export function policyManifest(namespace: string, name: string, spec: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: `${group}/${version}`, kind: "APISecurityPolicy", metadata: { name, namespace }, spec };
}

export async function getPolicy(kc: KubeConfig, namespace: string, name: string): Promise<PolicyObject> {
  return (await kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({ group, version, plural, namespace, name })) as PolicyObject;
}

/** Replaces the spec with a JSON merge patch of the whole spec (what `kubectl apply` would change). */
export async function patchPolicySpec(kc: KubeConfig, namespace: string, name: string, spec: Record<string, unknown>): Promise<PolicyObject> {
  return (await kc
    .makeApiClient(CustomObjectsApi)
    .patchNamespacedCustomObject({ group, version, plural, namespace, name, body: { spec } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch))) as PolicyObject;
}

export type Condition = NonNullable<PolicyStatus["conditions"]>[number];

export function conditionOf(policy: PolicyObject, type: string): Condition | undefined {
  return policy.status?.conditions?.find((c) => c.type === type);
}

export async function policyEvents(kc: KubeConfig, namespace: string, name: string): Promise<CoreV1Event[]> {
  const list = await kc.makeApiClient(CoreV1Api).listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name}` });
  return list.items.filter((e) => e.involvedObject.kind === "APISecurityPolicy");
}

export async function leaseHolder(kc: KubeConfig, namespace: string, name = "bulwark-controller"): Promise<string | undefined> {
  const lease = await kc.makeApiClient(CoordinationV1Api).readNamespacedLease({ namespace, name });
  return lease.spec?.holderIdentity || undefined;
}

/** Runs the environment's kubectl; `stdin` goes through a temporary file (`-f`). */
export async function kubectl(env: E2eEnvironment, args: readonly string[], manifest?: unknown): Promise<ExecResult> {
  const extra: string[] = [];
  if (manifest !== undefined) {
    const dir = await mkdtemp(join(tmpdir(), "bulwark-kubectl-"));
    const file = join(dir, "manifest.yaml");
    await writeFile(file, stringify(manifest));
    extra.push("-f", file);
  }
  return exec(env.kubectl, ["--kubeconfig", env.kubeconfig, ...args, ...extra], { missingFix: "run `npm run env -- provision`" });
}

/** Applies the CRDs of crds/ and waits until APISecurityPolicy is served. */
export async function applyCrds(env: E2eEnvironment): Promise<void> {
  await kubectl(env, ["apply", "--server-side", "--force-conflicts", "--field-manager=bulwark-e2e", "-f", join(repoRoot, "crds")]);
  await kubectl(env, ["wait", "--for=condition=Established", "--timeout=60s", `customresourcedefinition/${plural}.${group}`]);
  await waitFor(
    `${plural}.${group} to be served`,
    async () => ((await kubectl(env, ["get", `${plural}.${group}`, "--all-namespaces", "-o", "name"])) ? true : undefined),
    60_000,
    200,
  );
}

// ---------------------------------------------------------------------------------------------
// Sidecars: a Pod object, a tiny app and a real Envoy with Bulwark's bootstrap

export interface SidecarPod {
  namespace: string;
  pod: string;
  /** `<pod>.<namespace>`: Envoy's node id. */
  nodeId: string;
  /** Envoy's inbound listener (what traffic goes to). */
  port: number;
  /** Envoy's egress proxy on loopback (the app's HTTP_PROXY). */
  outboundPort: number;
  app: TinyApp;
  adminPort: number;
  envoy: ManagedProcess;
  logFile: string;
  request(path: string, headers?: Record<string, string>): Promise<HttpAnswer>;
  /** Counters and gauges whose names match the regex `filter`. */
  stats(filter: string): Promise<Map<string, number>>;
  /** GET on Envoy's admin endpoint. */
  admin(path: string): Promise<HttpAnswer>;
  stop(): Promise<void>;
}

export interface SidecarPodOptions {
  namespace: string;
  pod: string;
  labels: Record<string, string>;
  xdsPort: number;
  delta: boolean;
  /** More pod annotations, e.g. `bulwark.dev/egress-proxy: enabled` for a pod whose app calls the mesh. */
  annotations?: Record<string, string>;
  /** Wait for Envoy's /ready (its first listeners and clusters arrived); default true. */
  waitReady?: boolean;
  logLevel?: string;
  /** Runtime values for this sidecar's Envoy (a static layer of its bootstrap's layered_runtime). */
  runtime?: Record<string, unknown>;
}

/** Starts the app, creates the Pod object, then starts Envoy with `sidecarBootstrap` pointing at the controller. */
export async function startSidecarPod(env: E2eEnvironment, kc: KubeConfig, options: SidecarPodOptions): Promise<SidecarPod> {
  const app = await startTinyApp(options.pod);
  const port = await freePort();
  const adminPort = await freePort();
  const nodeId = `${options.pod}.${options.namespace}`;
  const outboundPort = await freePort();
  try {
    await createSidecarPod(kc, {
      namespace: options.namespace,
      name: options.pod,
      labels: options.labels,
      sidecarPort: port,
      appPort: app.port,
      outboundPort,
      ...(options.annotations ? { annotations: options.annotations } : {}),
    });
  } catch (error) {
    await app.close();
    throw error;
  }
  const dir = await mkdtemp(join(tmpdir(), `bulwark-sidecar-${options.pod}-`));
  const configPath = join(dir, "envoy.yaml");
  const xds = await sidecarXds(kc, { namespace: options.namespace, pod: options.pod, xdsPort: options.xdsPort, delta: options.delta, dir });
  const bootstrap = sidecarBootstrap({ node: { id: nodeId, cluster: `${options.namespace}/${options.pod}` }, xds, admin: { port: adminPort } });
  await writeFile(configPath, stringify(options.runtime ? { ...bootstrap, layered_runtime: { layers: [{ name: "test", static_layer: options.runtime }] } } : bootstrap));
  const logFile = join(dir, "envoy.log");
  const envoy = startProcess({ name: `envoy ${nodeId}`, command: env.envoy, args: [...sidecarArgs(configPath), "--log-level", options.logLevel ?? "warn"], logFile });
  const admin = (path: string): Promise<HttpAnswer> => httpRequest(adminPort, path);
  const sidecar: SidecarPod = {
    namespace: options.namespace,
    pod: options.pod,
    nodeId,
    port,
    outboundPort,
    app,
    adminPort,
    envoy,
    logFile,
    request: (path, headers) => httpRequest(port, path, headers ? { headers } : {}),
    async stats(filter: string): Promise<Map<string, number>> {
      const answer = await admin(`/stats?filter=${encodeURIComponent(filter)}`);
      if (answer.status !== 200) throw new Error(`admin /stats answered ${answer.status}: ${answer.body}`);
      const out = new Map<string, number>();
      for (const line of answer.body.split("\n")) {
        const m = /^([^:]+): (\d+)$/.exec(line.trim());
        if (m?.[1] !== undefined && m[2] !== undefined) out.set(m[1], Number(m[2]));
      }
      return out;
    },
    admin,
    async stop(): Promise<void> {
      await envoy.stop();
      await app.close();
    },
  };
  if (options.waitReady ?? true) {
    try {
      await waitUntilReady(envoy, async () => (await admin("/ready").catch(() => ({ status: 0 }))).status === 200, 30_000);
    } catch (error) {
      await sidecar.stop();
      throw error;
    }
  }
  return sidecar;
}

// ---------------------------------------------------------------------------------------------
// Tokens

export interface TokenClaims {
  sub: string;
  scope?: string;
  /** Defaults to the issuer's audience. */
  aud?: string;
  /** Defaults to the issuer's name. */
  iss?: string;
  /** Lifetime; default 10 minutes. */
  expiresInSeconds?: number;
}

/** An ES256 signing key and its public JWKS: an identity provider for tests. */
export interface TokenIssuer {
  issuer: string;
  audience: string;
  /** The public JSON Web Key Set, as JSON text. */
  jwks: string;
  mint(claims: TokenClaims): Promise<string>;
}

export async function createIssuer(issuer: string, audience: string): Promise<TokenIssuer> {
  const { publicKey, privateKey } = await generateKeyPair("ES256");
  const kid = `e2e-${Math.random().toString(36).slice(2, 10)}`;
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" };
  const key: CryptoKey = privateKey;
  return {
    issuer,
    audience,
    jwks: JSON.stringify({ keys: [jwk] }),
    async mint(claims: TokenClaims): Promise<string> {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ ...(claims.scope !== undefined ? { scope: claims.scope } : {}) })
        .setProtectedHeader({ alg: "ES256", kid, typ: "JWT" })
        .setIssuer(claims.iss ?? issuer)
        .setAudience(claims.aud ?? audience)
        .setSubject(claims.sub)
        .setIssuedAt(now)
        .setExpirationTime(now + (claims.expiresInSeconds ?? 600))
        .sign(key);
    },
  };
}
