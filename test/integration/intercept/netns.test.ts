/**
 * Inbound interception with the real iptables, the real Envoy and a real app, in a network
 * namespace that stands in for a pod (no kubelet needed): `bulwark intercept` programs the
 * namespace as the injected init container does, Envoy runs as the sidecar's user (101), and
 * the app binds every address (0.0.0.0 and ::) on its port, as apps do.
 */
import { copyFile, chmod, mkdtemp, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { standaloneBootstrap } from "../../../envoy/bootstrap/standalone-bootstrap.js";
import { authServingWorkload, fixtureSettings } from "../../../envoy/testdata/ir-fixtures.js";
import { buildSidecarResources } from "../../../envoy/build/sidecar.js";
import { probeResources } from "../../../envoy/bootstrap/sidecar-bootstrap.js";
import { sleep, startProcess, type ManagedProcess } from "../../env/processes.js";
import { testEnvironment } from "../../support/environment.js";
import { createPodNetwork, netnsUnavailable, type PodNetwork } from "../../support/netns.js";

const APP_PORT = 8080;
const SIDECAR_PORT = 15006;
const PROXY_UID = 101;
const APP_UID = 1000;
const PROBE_PORT = 15021;
const repoRoot = resolve(import.meta.dirname, "../../..");
const bulwark = [process.execPath, "--import", "tsx", join(repoRoot, "cli/main.ts")];

interface Reply {
  status: number;
  body: string;
}

/** One HTTP GET on a fresh connection; rejects with the socket error (e.g. ECONNREFUSED). */
function get(host: string, port: number, path: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolvePromise, reject) => {
    const req = request({ host, port, path, headers, agent: false, timeout: 5000 }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolvePromise({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end();
  });
}

/** The app: answers every request itself, saying so, on every address. */
const APP_SOURCE = `require("node:http").createServer((req, res) => { res.setHeader("content-type", "application/json"); res.end(JSON.stringify({ answeredBy: "app", path: req.url })); }).listen(${APP_PORT}, "::");`;

/** curl inside the pod: the status and body, or the curl error. */
async function curlInPod(pod: PodNetwork, uid: number, url: string): Promise<string> {
  const r = await pod.run(["curl", "-sS", "-m", "5", "-o", "-", "-w", " status=%{http_code}", url], { uid });
  return r.code === 0 ? r.stdout : `curl exit ${r.code}: ${r.stderr.trim()}`;
}

const unavailable = netnsUnavailable();

describe.skipIf(unavailable !== undefined)(`inbound interception in a pod's network namespace${unavailable ? ` (skipped: ${unavailable})` : ""}`, () => {
  let pod: PodNetwork;
  let app: ManagedProcess;
  let envoy: ManagedProcess;
  let token: string;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "bulwark-intercept-"));
    await chmod(dir, 0o755);
    pod = await createPodNetwork(process.pid % 10_000);
    const { publicKey, privateKey } = await generateKeyPair("ES256");
    const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256", use: "sig" }] });
    const now = Math.floor(Date.now() / 1000);
    token = await new SignJWT({ sub: "alice", scope: "orders:read", tier: "gold" })
      .setProtectedHeader({ alg: "ES256", kid: "k1" })
      .setIssuer("https://issuer.test")
      .setAudience("demo")
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .sign(privateKey);
    // The sidecar's configuration for the app port, as the controller would serve it: 401 without a token.
    const bootstrap = standaloneBootstrap(buildSidecarResources(authServingWorkload({ listener: SIDECAR_PORT, app: APP_PORT }, jwks), fixtureSettings)) as {
      static_resources: { listeners: unknown[]; clusters: unknown[] };
    };
    // And the injector's probe listener for the kubelet's probes of /healthz and /ready.
    const probes = probeResources({ port: PROBE_PORT, appPort: APP_PORT, paths: ["/healthz?full=1", "/ready"] });
    bootstrap.static_resources.listeners.push(probes.listener);
    bootstrap.static_resources.clusters.push(probes.cluster);
    const config = join(dir, "envoy.yaml");
    await writeFile(config, stringify({ ...bootstrap, admin: { address: { socket_address: { address: "127.0.0.1", port_value: 15000 } } } }));
    await chmod(config, 0o644);
    // The cached binary sits under root's home; the sidecar's user gets its own copy.
    const envoyBinary = join(dir, "envoy");
    await copyFile(testEnvironment().binaries.envoy, envoyBinary);
    await chmod(envoyBinary, 0o755);
    app = startProcess({ name: "app", command: "ip", args: [...pod.prefix(APP_UID).slice(1), process.execPath, "-e", APP_SOURCE], logFile: join(dir, "app.log") });
    envoy = startProcess({
      name: "sidecar",
      command: "ip",
      args: [...pod.prefix(PROXY_UID).slice(1), envoyBinary, "--config-path", config, "--disable-hot-restart", "--concurrency", "1", "--log-level", "warn"],
      logFile: join(dir, "envoy.log"),
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      const ready = await Promise.all([get(pod.ipv4, SIDECAR_PORT, "/open"), get(pod.ipv4, APP_PORT, "/")]).then(
        () => true,
        () => false,
      );
      if (ready) break;
      if (Date.now() > deadline) throw new Error(`the app or the sidecar did not start; logs in ${dir}`);
      await Promise.race([sleep(200), app.exited, envoy.exited]);
    }
  });

  afterAll(async () => {
    await envoy?.stop();
    await app?.stop();
    await pod?.remove();
  });

  it("without interception the app port is a bypass: the app answers a request the policy refuses (the hole)", async () => {
    const direct = await get(pod.ipv4, APP_PORT, "/orders");
    expect(direct.status).toBe(200);
    expect(JSON.parse(direct.body)).toEqual({ answeredBy: "app", path: "/orders" });
    expect((await get(pod.ipv4, SIDECAR_PORT, "/orders")).status).toBe(401);
  });

  it("`bulwark intercept` programs the namespace; then the app port from outside reaches the sidecar and its 401, never the app", async () => {
    const programmed = await pod.run([...bulwark, "intercept", "--app-port", String(APP_PORT), "--sidecar-port", String(SIDECAR_PORT), "--proxy-uid", String(PROXY_UID)]);
    expect(programmed.stderr).toBe("");
    expect(programmed.code).toBe(0);
    expect(programmed.stdout).toContain("ipv4 and ipv6");
    const refused = await get(pod.ipv4, APP_PORT, "/orders");
    expect(refused.status).toBe(401);
    expect(refused.body).not.toContain("answeredBy");
    // A request the policy allows goes through the sidecar, which reaches the app on loopback.
    const allowed = await get(pod.ipv4, APP_PORT, "/orders", { authorization: `Bearer ${token}` });
    expect(allowed.status).toBe(200);
    expect(JSON.parse(allowed.body)).toEqual({ answeredBy: "app", path: "/orders" });
    // Whatever the path: an unknown one is the policy's 404, not the app's answer.
    const unknown = await get(pod.ipv4, APP_PORT, "/admin");
    expect(unknown.status).toBe(404);
    expect(unknown.body).not.toContain("answeredBy");
  });

  it("the kubelet's rewritten probes reach the app through the probe listener, and nothing else does", async () => {
    expect(await get(pod.ipv4, PROBE_PORT, "/healthz?full=1")).toEqual({ status: 200, body: JSON.stringify({ answeredBy: "app", path: "/healthz?full=1" }) });
    expect((await get(pod.ipv4, PROBE_PORT, "/ready")).status).toBe(200);
    for (const path of ["/orders", "/healthz/../orders", "/HEALTHZ", "/healthz/", "/ready%2F..%2Forders"]) {
      const reply = await get(pod.ipv4, PROBE_PORT, path);
      expect({ path, status: reply.status, app: reply.body.includes("answeredBy") }).toEqual({ path, status: 404, app: false });
    }
  });

  it("over IPv6 the app port does not reach the app either (the sidecar listens on IPv4 only, so it is refused)", async () => {
    const outcome = await get(pod.ipv6, APP_PORT, "/orders").then(
      (r) => `status ${r.status}: ${r.body}`,
      (e: NodeJS.ErrnoException) => e.code ?? e.message,
    );
    expect(outcome).toBe("ECONNREFUSED");
  });

  it("from inside the pod: its own address goes through the sidecar; loopback reaches the app (the sidecar's path); the sidecar's user is exempt", async () => {
    expect(await curlInPod(pod, APP_UID, `http://${pod.ipv4}:${APP_PORT}/orders`)).toMatch(/ status=401$/);
    expect(await curlInPod(pod, APP_UID, `http://127.0.0.1:${APP_PORT}/orders`)).toBe(`{"answeredBy":"app","path":"/orders"} status=200`);
    expect(await curlInPod(pod, PROXY_UID, `http://${pod.ipv4}:${APP_PORT}/orders`)).toBe(`{"answeredBy":"app","path":"/orders"} status=200`);
  });

  it("running it again in the same namespace replaces Bulwark's rules instead of adding to them", async () => {
    const again = await pod.run([...bulwark, "intercept", "--app-port", String(APP_PORT)]);
    expect(again.code).toBe(0);
    const saved = await pod.run(["iptables-save", "-t", "nat"]);
    expect(saved.stdout.split("\n").filter((l) => l.includes("-j BULWARK_INBOUND") || l.includes("REDIRECT"))).toEqual([
      "-A PREROUTING -p tcp -j BULWARK_INBOUND",
      "-A BULWARK_INBOUND -p tcp -m multiport --dports 8080 -j REDIRECT --to-ports 15006",
      "-A BULWARK_LOCAL -p tcp -m multiport --dports 8080 -j REDIRECT --to-ports 15006",
    ]);
    expect((await get(pod.ipv4, APP_PORT, "/orders")).status).toBe(401);
  });
});

describe.skipIf(unavailable !== undefined)(`interception that cannot be programmed fails closed${unavailable ? ` (skipped: ${unavailable})` : ""}`, () => {
  let pod: PodNetwork;

  beforeAll(async () => {
    pod = await createPodNetwork((process.pid % 10_000) + 10_000);
  });

  afterAll(async () => {
    await pod?.remove();
  });

  it("without NET_ADMIN it exits non-zero saying which capability is missing and what to do instead, and leaves no rule", async () => {
    const dropped = await pod.run(["setpriv", "--bounding-set=-net_admin,-net_raw", "--inh-caps=-net_admin,-net_raw", ...bulwark, "intercept", "--app-port", "8080"]);
    expect(dropped.code).toBe(1);
    expect(dropped.stderr).toMatch(/^bulwark intercept: inbound traffic is not intercepted, so this pod must not start/);
    expect(dropped.stderr).toContain("NET_ADMIN");
    expect(dropped.stderr).toContain("proxy.interception.enabled=false");
    expect((await pod.run(["iptables-save", "-t", "nat"])).stdout).not.toContain("BULWARK");
  });

  it("without the iptables binaries it exits non-zero naming them", async () => {
    const missing = await pod.run(["env", "PATH=/nonexistent", ...bulwark, "intercept", "--app-port", "8080"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("iptables-save not found: the image must carry iptables");
  });
});
