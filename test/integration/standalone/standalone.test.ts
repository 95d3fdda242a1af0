/**
 * Standalone mode, the developer's loop without Kubernetes, with the real Envoy: `bulwark
 * controller -f DIR --local SERVICE` serves xDS from a folder of policy files and follows edits;
 * `bulwark render --bootstrap` writes the bootstrap a local Envoy runs, either taking its
 * configuration from that controller or carrying it statically. A typo in a file keeps the last
 * good configuration; an invalid policy is logged as not Ready. It starts from the README's policy.
 */
import { mkdtemp, readFile, rename, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { freePort } from "../../env/processes.js";
import { runBulwark } from "../../support/bulwark-cli.js";
import { startBulwark, waitFor, type BulwarkProcess } from "../../support/e2e.js";
import { startEnvoy, type EnvoyProcess } from "../../support/envoy-process.js";
import { httpRequest, startJsonServer, type Upstream } from "../../support/http.js";

let dir: string;
let app: Upstream;
let controller: BulwarkProcess;
const envoys: EnvoyProcess[] = [];
let xdsPort: number;
let listenPort: number;

const policy = (rules: { name: string; path: string }[]): string =>
  stringify({
    apiVersion: "bulwark.dev/v1alpha1",
    kind: "APISecurityPolicy",
    metadata: { name: "orders", namespace: "default" },
    spec: { targetRefs: [{ kind: "Service", name: "orders" }], rules: rules.map((r) => ({ name: r.name, match: { methods: ["GET"], path: r.path }, authentication: "None" })) },
  });

/** The policy of the README's section "On your machine, without Kubernetes", as printed there. */
async function readmePolicy(): Promise<string> {
  const readme = await readFile(join(import.meta.dirname, "..", "..", "..", "README.md"), "utf8");
  const section = readme.split("## On your machine, without Kubernetes")[1] ?? "";
  const block = /```yaml\n# policies\/orders.yaml\n([\s\S]+?)```/.exec(section)?.[1];
  if (!block) throw new Error("the README's local loop has no policies/orders.yaml block");
  return block;
}

/** Saves as editors do: a new file renamed over the old one. */
async function save(name: string, text: string): Promise<void> {
  await writeFile(join(dir, `.${name}.tmp`), text);
  await rename(join(dir, `.${name}.tmp`), join(dir, name));
}

const status = async (port: number, path: string): Promise<number> => (await httpRequest(port, path, { timeoutMs: 5000 }).catch(() => ({ status: 0 }))).status;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "bulwark-standalone-"));
  await save("orders.yaml", await readmePolicy());
  app = await startJsonServer((req) => ({ path: req.url }));
  xdsPort = await freePort();
  listenPort = await freePort();
  controller = await startBulwark({
    command: "controller",
    name: "standalone controller",
    probe: "/readyz",
    args: ["-f", dir, "--local", "orders", "--app-port", String(app.port), "--listen-port", String(listenPort), "--xds-address", `127.0.0.1:${xdsPort}`],
  });
}, 120_000);

afterAll(async () => {
  for (const e of envoys) await e.stop();
  await controller?.stop();
  await app?.close();
});

describe("standalone mode", () => {
  it("a local Envoy bootstrapped by render --bootstrap takes its configuration from the controller and follows edits of the files", async () => {
    const rendered = await runBulwark([
      "render",
      "-f",
      dir,
      "--local",
      "orders",
      "--app-port",
      String(app.port),
      "--listen-port",
      String(listenPort),
      "--bootstrap",
      "--xds-address",
      `127.0.0.1:${xdsPort}`,
    ]);
    expect(rendered.stderr).toBe("");
    expect(rendered.code).toBe(0);
    const bootstrap = JSON.parse(rendered.stdout) as Record<string, unknown>;
    expect(bootstrap.node).toEqual({ id: "orders-local.default", cluster: "default/orders-local" });
    envoys.push(await startEnvoy(bootstrap, "envoy-standalone"));

    // The README's policy, with the README's requests: its route reaches the app; anything else is refused by default (404).
    await waitFor("the route served", async () => (await status(listenPort, "/health")) === 200, 30_000, 200);
    expect(await status(listenPort, "/admin")).toBe(404);
    expect(await status(listenPort, "/orders/1")).toBe(404);

    // An edit reaches the running Envoy.
    await save(
      "orders.yaml",
      policy([
        { name: "health", path: "/health" },
        { name: "order", path: "/orders/1" },
      ]),
    );
    await waitFor("the edited policy served", async () => (await status(listenPort, "/orders/1")) === 200, 30_000, 200);

    // A file that does not parse keeps the last good configuration, and says which file.
    await save("broken.yaml", "apiVersion: [unclosed\n");
    await waitFor("the YAML error logged", async () => (await readFile(controller.logFile, "utf8")).includes("broken.yaml"), 15_000, 200);
    expect(await status(listenPort, "/orders/1")).toBe(200);
    await save("broken.yaml", "");

    // A policy the API would refuse: logged as not Ready with the reason; the sidecar keeps the last good configuration.
    await save("orders.yaml", policy([{ name: "Not A Label", path: "/orders/2" }]));
    await waitFor("the invalid policy logged", async () => /policy default\/orders: Ready=False \(Invalid\)/.test(await readFile(controller.logFile, "utf8")), 15_000, 200);
    expect(await status(listenPort, "/orders/1")).toBe(200);
    expect(await status(listenPort, "/orders/2")).toBe(404);
  }, 120_000);

  it("render --bootstrap without a controller writes a static bootstrap Envoy runs as it is", async () => {
    const staticDir = await mkdtemp(join(tmpdir(), "bulwark-standalone-static-"));
    await writeFile(join(staticDir, "orders.yaml"), policy([{ name: "health", path: "/health" }]));
    const port = await freePort();
    const rendered = await runBulwark(["render", "-f", staticDir, "--local", "shop/orders", "--app-port", String(app.port), "--listen-port", String(port), "--bootstrap"]);
    // The policy is in namespace default and this sidecar in shop: no policy applies, so it passes traffic through.
    expect(rendered.code).toBe(0);
    const bootstrap = JSON.parse(rendered.stdout) as { node: unknown; dynamic_resources?: unknown };
    expect(bootstrap.node).toEqual({ id: "orders-local.shop", cluster: "shop/orders-local" });
    expect(bootstrap.dynamic_resources).toBeUndefined();
    envoys.push(await startEnvoy(bootstrap, "envoy-static"));
    await waitFor("the pass-through sidecar", async () => (await status(port, "/anything")) === 200, 30_000, 200);

    const inNamespace = await runBulwark([
      "render",
      "-f",
      staticDir,
      "--local",
      "orders",
      "--app-port",
      String(app.port),
      "--listen-port",
      String(await freePort()),
      "--bootstrap",
    ]);
    const withPolicy = JSON.parse(inNamespace.stdout) as Record<string, unknown>;
    const policyEnvoy = await startEnvoy(withPolicy, "envoy-static-policy");
    envoys.push(policyEnvoy);
    const policyPort =
      (withPolicy as { static_resources: { listeners: { address: { socket_address: { port_value: number } } }[] } }).static_resources.listeners[0]?.address.socket_address
        .port_value ?? 0;
    await waitFor("the static policy served", async () => (await status(policyPort, "/health")) === 200, 30_000, 200);
    expect(await status(policyPort, "/orders/1")).toBe(404);
  }, 120_000);

  it("refuses what it cannot do with one clear line", async () => {
    const open = await runBulwark(["controller", "-f", dir, "--xds-address", "0.0.0.0:18000"]);
    expect(open.code).toBe(2);
    expect(open.stderr).toMatch(/standalone mode serves xDS without TLS or authentication, so only on a loopback address/);
    const noSidecar = await runBulwark(["render", "-f", dir, "--bootstrap"]);
    expect(noSidecar.code).toBe(2);
    expect(noSidecar.stderr).toMatch(/--bootstrap needs the sidecar: --local \[NS\/\]SERVICE/);
    const badLocal = await runBulwark(["render", "-f", dir, "--local", "Orders/x/y", "--bootstrap"]);
    expect(badLocal.stderr).toMatch(/--local Orders\/x\/y is not \[NAMESPACE\/\]SERVICE/);
    const samePorts = await runBulwark(["render", "-f", dir, "--local", "orders", "--app-port", "9000", "--listen-port", "9000", "--bootstrap"]);
    expect(samePorts.stderr).toMatch(/the app port and the listen port are both 9000/);
  }, 120_000);
});
