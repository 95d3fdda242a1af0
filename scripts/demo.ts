/**
 * `npm run demo`: the whole product on this machine. Brings up a real Kubernetes API server,
 * installs the CRD, runs `bulwark controller`, starts a sample mobile backend behind two real
 * Envoy sidecars registered as Pods of a Service, applies the demo policy and the examples,
 * and plays a scripted mobile client against it — then tears everything down.
 */
import { CoreV1Api, CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { createServer, request, type Server } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { sidecarArgs, sidecarBootstrap } from "../envoy/bootstrap/sidecar-bootstrap.js";
import { startEnvironment, type RunningEnvironment } from "../test/env/environment.js";
import { exec } from "../test/env/exec.js";
import { PrerequisiteError } from "../test/env/errors.js";
import { freePort, startProcess, waitUntilReady, type ManagedProcess } from "../test/env/processes.js";
import { consoleSteps } from "../test/env/steps.js";
import { sidecarXds, xdsServingArgs } from "../test/support/xds-credentials.js";
import { importIntoNode } from "../test/env/node/node.js";
import { chartImageArchives } from "../test/support/chart-images.js";
import {
  applyShopPolicy,
  deployShop,
  installChart,
  kubectlOn,
  shopKeys,
  shopName,
  shopNamespace,
  shopPods,
  shopTokens,
  waitUntilServing,
  type NodeShopContext,
} from "../test/support/node-shop.js";
import { errorMessage } from "../common/errors.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const namespace = "bulwark-demo";
const steps = consoleSteps("demo");
const cleanups: (() => Promise<void>)[] = [];

function httpOk(port: number, path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, path, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on("error", () => resolve(false));
    req.on("timeout", () => req.destroy());
    req.end();
  });
}

function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
  });
}

async function sampleBackend(name: string): Promise<{ port: number; server: Server }> {
  const port = await freePort();
  const server = createServer((req, res) => {
    const body = JSON.stringify({ servedBy: name, path: req.url, user: req.headers["x-user-id"] ?? null, items: Array.from({ length: 20 }, (_, i) => `item-${i}`) });
    res.writeHead(200, { "content-type": "application/json" }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  cleanups.push(() => new Promise((resolve) => server.close(() => resolve())));
  return { port, server };
}

interface Sidecar {
  pod: string;
  port: number;
  proc: ManagedProcess;
}

async function startSidecar(options: { kc: KubeConfig; dir: string; envoy: string; pod: string; port: number; xdsPort: number }): Promise<Sidecar> {
  const port = options.port;
  const adminPort = await freePort();
  // TLS to the controller, and a token from TokenRequest bound to the Pod (what the kubelet projects into an injected pod).
  const xds = await sidecarXds(options.kc, { namespace, pod: options.pod, xdsPort: options.xdsPort, dir: options.dir });
  const bootstrap = sidecarBootstrap({ node: { id: `${options.pod}.${namespace}`, cluster: `${namespace}/mobile-shop` }, xds, admin: { port: adminPort } });
  const config = join(options.dir, `${options.pod}.yaml`);
  await writeFile(config, stringify(bootstrap));
  const proc = startProcess({
    name: `envoy ${options.pod}`,
    command: options.envoy,
    args: [...sidecarArgs(config), "--log-level", "error"],
    logFile: join(options.dir, `${options.pod}.log`),
  });
  cleanups.push(() => proc.stop());
  await waitUntilReady(proc, () => httpOk(adminPort, "/ready"), 30_000);
  return { pod: options.pod, port, proc };
}

interface Row {
  step: string;
  request: string;
  status: number;
  why: string;
}

/** One request of the mobile app to a sidecar at `address` (host:port). */
async function call(address: string, path: string, token?: string, app = { platform: "ios", version: "4.3.1" }): Promise<{ status: number; why: string }> {
  const response = await fetch(`http://${address}${path}`, {
    headers: { "accept-encoding": "br, gzip", "x-app-platform": app.platform, "x-app-version": app.version, ...(token ? { authorization: `Bearer ${token}` } : {}) },
  });
  const text = await response.text();
  const notes = [
    response.headers.has("deprecation") ? `Deprecation+Sunset ${response.headers.get("sunset")?.slice(5, 16) ?? ""}` : "",
    response.headers.get("content-encoding") ? `${response.headers.get("content-encoding") ?? ""}-compressed` : "",
    response.headers.get("x-bulwark-reason") ? `reason ${response.headers.get("x-bulwark-reason") ?? ""}` : "",
  ].filter((n) => n !== "");
  const body = text.length > 56 ? `${text.slice(0, 53)}...` : text;
  const why = response.status === 200 ? `backend answered${notes.length ? ` (${notes.join(", ")})` : ""}` : `${body}${notes.length ? ` (${notes.join(", ")})` : ""}`;
  return { status: response.status, why: why.replace(/\s+/g, " ").trim() };
}

function printTable(rows: Row[]): void {
  const width = (key: keyof Row): number => Math.max(key.length, ...rows.map((r) => String(r[key]).length));
  const cols: (keyof Row)[] = ["step", "request", "status", "why"];
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(width(cols[i] ?? "why"))).join("  ");
  process.stdout.write(`\n${line(cols.map((c) => c.toUpperCase()))}\n`);
  for (const r of rows) process.stdout.write(`${line(cols.map((c) => String(r[c])))}\n`);
  process.stdout.write("\n");
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "bulwark-demo-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const env: RunningEnvironment = await startEnvironment({ dir: join(dir, "env"), steps, keepAlive: false, kubeconfig: process.env.KUBECONFIG });
  cleanups.push(() => env.stop());
  const kubectl = (args: string[]): Promise<unknown> =>
    exec(env.info.binaries.kubectl, ["--kubeconfig", env.info.kubeconfig, ...args], { missingFix: "run `npm run env -- provision`" });
  const kc = new KubeConfig();
  kc.loadFromFile(env.info.kubeconfig);
  const core = kc.makeApiClient(CoreV1Api);

  await steps.step("install the APISecurityPolicy CRD", async () => {
    await kubectl(["apply", "--server-side", "--force-conflicts", "-f", join(root, "crds")]);
    // `kubectl wait` fails outright while the new CRD has no status conditions yet: try again briefly.
    for (let attempt = 1; ; attempt++) {
      try {
        await kubectl(["wait", "--for=condition=Established", "--timeout=60s", "crd/apisecuritypolicies.bulwark.dev"]);
        break;
      } catch (error) {
        if (attempt >= 20) throw error;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  });

  const xdsPort = await freePort();
  const httpPort = await freePort();
  const authzPort = await freePort();
  await steps.step(`start bulwark authz (ext_authz on 127.0.0.1:${authzPort}, DPoP replay cache in Redis)`, async () => {
    const authz = startProcess({
      name: "bulwark authz",
      command: process.execPath,
      args: ["--import", "tsx", join(root, "cli/main.ts"), "authz", "--kubeconfig", env.info.kubeconfig, "--address", `127.0.0.1:${authzPort}`, "--redis-url", env.info.redisUrl],
      logFile: join(dir, "authz.log"),
    });
    cleanups.push(() => authz.stop());
    await waitUntilReady(authz, () => tcpOpen(authzPort), 60_000);
  });
  await steps.step(`start bulwark controller (xDS on 127.0.0.1:${xdsPort})`, async () => {
    await kubectl(["create", "namespace", "bulwark-system"]).catch(() => undefined);
    const controller = startProcess({
      name: "bulwark controller",
      command: process.execPath,
      args: [
        "--import",
        "tsx",
        join(root, "cli/main.ts"),
        "controller",
        "--kubeconfig",
        env.info.kubeconfig,
        "--xds-address",
        `127.0.0.1:${xdsPort}`,
        "--http-address",
        `127.0.0.1:${httpPort}`,
        "--authz-address",
        `127.0.0.1:${authzPort}`,
        "--lease-namespace",
        "bulwark-system",
        ...(await xdsServingArgs()),
      ],
      logFile: join(dir, "controller.log"),
    });
    cleanups.push(() => controller.stop());
    await waitUntilReady(controller, () => httpOk(httpPort, "/readyz"), 60_000);
  });

  const { privateKey, publicKey } = await generateKeyPair("ES256");
  const jwk = { ...(await exportJWK(publicKey)), kid: "demo-1", alg: "ES256", use: "sig" };
  const sidecars: Sidecar[] = [];
  await steps.step("start the sample backend behind two Envoy sidecars, registered as Pods of Service mobile-shop", async () => {
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    await core.createNamespacedSecret({ namespace, body: { metadata: { name: "demo-idp-jwks" }, stringData: { "jwks.json": JSON.stringify({ keys: [jwk] }) } } });
    await core.createNamespacedService({
      namespace,
      body: { metadata: { name: "mobile-shop" }, spec: { selector: { app: "mobile-shop" }, ports: [{ port: 80, targetPort: 15006 }] } },
    });
    for (const pod of ["mobile-shop-a", "mobile-shop-b"]) {
      const app = await sampleBackend(pod);
      const sidecarPort = await freePort();
      // The Pod first: the controller then has the sidecar's configuration ready when Envoy asks for it.
      await core.createNamespacedPod({
        namespace,
        body: {
          // Each sidecar's egress proxy on its own port: both run on this host (in a cluster, each pod has its own 15001).
          metadata: {
            name: pod,
            labels: { app: "mobile-shop" },
            annotations: { "bulwark.dev/sidecar-port": String(sidecarPort), "bulwark.dev/app-port": String(app.port), "bulwark.dev/outbound-port": String(await freePort()) },
          },
          spec: { containers: [{ name: "app", image: "registry.invalid/mobile-shop:demo" }] },
        },
      });
      sidecars.push(await startSidecar({ kc, dir, envoy: env.info.binaries.envoy, pod, port: sidecarPort, xdsPort }));
    }
  });

  await steps.step("apply the examples (examples/*.yaml) and the demo policy, and wait until both sidecars run it", async () => {
    await core.createNamespace({ body: { metadata: { name: "bulwark-examples" } } });
    for (const file of (await readdir(join(root, "examples"))).filter((f) => f.endsWith(".yaml")).sort()) {
      await kubectl(["apply", "-n", "bulwark-examples", "-f", join(root, "examples", file)]);
    }
    await kubectl(["apply", "-f", join(root, "scripts/demo/policy.yaml")]);
    const custom = kc.makeApiClient(CustomObjectsApi);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const policy = (await custom.getNamespacedCustomObject({ group: "bulwark.dev", version: "v1alpha1", namespace, plural: "apisecuritypolicies", name: "mobile-shop" })) as {
        status?: { sidecars?: string; conditions?: { type: string; status: string; message: string }[] };
      };
      const ready = policy.status?.conditions?.find((c) => c.type === "Ready");
      if (ready?.status === "True") break;
      if (Date.now() > deadline) throw new Error(`the demo policy did not become Ready: ${ready?.message ?? "no status"}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });
  const { stdout } = (await kubectl(["get", "apisecuritypolicies", "--all-namespaces"])) as { stdout: string };
  process.stdout.write(`\n$ kubectl get apisecuritypolicies --all-namespaces\n${stdout}`);

  const now = Math.floor(Date.now() / 1000);
  const token = (claims: Record<string, unknown>, issuedAt: number, ttl: number): Promise<string> =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: "ES256", kid: "demo-1" })
      .setIssuer("https://id.demo.bulwark.dev/")
      .setAudience("mobile-shop")
      .setSubject("user-42")
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + ttl)
      .sign(privateKey);
  const good = await token({ scope: "orders:read profile" }, now, 600);
  const expired = await token({ scope: "orders:read" }, now - 1200, 600);
  const noScope = await token({ scope: "profile" }, now, 600);
  const longLived = await token({ scope: "orders:read" }, now, 86_400);

  // bulwark authz reads the same translation; wait until it has the demo's routes.
  const first = sidecars[0];
  if (!first) throw new Error("no sidecar");
  for (const deadline = Date.now() + 30_000; (await call(`127.0.0.1:${first.port}`, "/v1/catalog/warmup")).status === 503;) {
    if (Date.now() > deadline) throw new Error("bulwark authz did not get the demo policy's routes within 30 s");
    await new Promise((r) => setTimeout(r, 200));
  }

  await playScript(
    sidecars.map((sidecar) => ({ name: sidecar.pod, address: `127.0.0.1:${sidecar.port}` })),
    { good, expired, noScope, longLived },
  );
}

/** The scripted mobile client, row by row: each request to one of the sidecars (the scraper always to the first). */
async function playScript(sidecars: { name: string; address: string }[], tokens: { good: string; expired: string; noScope: string; longLived: string }): Promise<void> {
  const { good, expired, noScope, longLived } = tokens;
  const script: { step: string; path: string; token?: string; app?: { platform: string; version: string } }[] = [
    { step: "browse the catalog, no account", path: "/v1/catalog/shoes" },
    { step: "same, from an outdated iOS build 4.2.9", path: "/v1/catalog/shoes", app: { platform: "ios", version: "4.2.9" } },
    { step: "same, from Android 4.2.0", path: "/v1/catalog/shoes", app: { platform: "android", version: "4.2.0" } },
    { step: "open orders without signing in", path: "/v1/orders" },
    { step: "open orders with an expired token", path: "/v1/orders", token: expired },
    { step: "open orders with a day-long token", path: "/v1/orders", token: longLived },
    { step: "open orders, token without the scope", path: "/v1/orders", token: noScope },
    { step: "open orders, signed in", path: "/v1/orders", token: good },
    ...Array.from({ length: 7 }, (_, i) => ({ step: `image ${i + 1} (scraper, one sidecar)`, path: `/v1/images/${i}.jpg` })),
    { step: "probe a shadow endpoint", path: "/internal/debug" },
    { step: "old app on the retired v0 API", path: "/v0/catalog" },
  ];
  const rows: Row[] = [];
  for (const [i, s] of script.entries()) {
    const sidecar = s.path.startsWith("/v1/images/") ? sidecars[0] : sidecars[i % sidecars.length];
    if (!sidecar) throw new Error("no sidecar");
    const result = await call(sidecar.address, s.path, s.token, s.app);
    rows.push({ step: s.step, request: `GET ${s.path} via ${sidecar.name}${s.app ? ` (${s.app.platform} ${s.app.version})` : ""}`, status: result.status, why: result.why });
  }
  printTable(rows);
}

/**
 * `npm run demo -- --node`: the same table, answered by Pods. The local cluster gets a real node;
 * the chart is installed with helm from the locally built images, the backend is a Deployment
 * whose Pods get their sidecar from the injector, and every request goes to a Pod's sidecar.
 */
async function mainOnNode(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "bulwark-demo-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const env = await startEnvironment({ dir: join(dir, "env"), steps, keepAlive: false, node: true });
  cleanups.push(() => env.stop());
  const node = env.info.node;
  if (!node) throw new PrerequisiteError("the demo on a node needs the local cluster", "unset KUBECONFIG");
  const images = await chartImageArchives(steps);
  await steps.step(`import ${images.bulwark.name} and ${images.envoy.name} into the node`, () =>
    importIntoNode(node, { ctr: "/usr/bin/ctr" }, [images.bulwark.archive, images.envoy.archive]),
  );
  const ctx: NodeShopContext = { env: env.info, bulwarkImage: images.bulwark.name, dir, progress: (line) => process.stderr.write(`[demo] ${line}\n`) };
  await steps.step("helm install bulwark (controller, authz, ratelimit, injector, redis) and wait for every Pod", () => installChart(ctx));
  const keys = await shopKeys();
  await steps.step(`deploy ${shopName} (two Pods, sidecars injected by the webhook) in ${shopNamespace}`, () => deployShop(ctx, keys));
  await steps.step("apply the demo policy with kubectl and wait until it is Ready", () => applyShopPolicy(ctx));
  const pods = await shopPods(ctx);
  for (const pod of pods) await waitUntilServing(`${pod.ip}:15006`);
  const { stdout } = await kubectlOn(env.info, ["get", "pods", "-A", "-o", "wide"]);
  process.stdout.write(`\n$ kubectl get pods -A -o wide\n${stdout}`);
  await playScript(
    pods.map((pod) => ({ name: pod.name, address: `${pod.ip}:15006` })),
    await shopTokens(keys),
  );
}

async function teardown(): Promise<void> {
  await steps.step("tear everything down", async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });
}

(process.argv.includes("--node") ? mainOnNode() : main()).then(teardown).catch(async (error: unknown) => {
  process.stderr.write(`demo: ${error instanceof PrerequisiteError ? error.oneLine() : errorMessage(error)}\n`);
  await teardown();
  process.exitCode = 1;
});
