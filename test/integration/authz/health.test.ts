/**
 * `bulwark authz` (the CLI process) serves /healthz, /readyz and /metrics on its own port: live
 * at once, ready only once a route table is loaded — here held back by an API server that
 * cannot be reached at first — and then reporting the table's version.
 */
import { KubeConfig } from "@kubernetes/client-node";
import { mkdtemp, writeFile } from "node:fs/promises";
import { connect, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, sleep } from "../../env/processes.js";
import { startAuthzProcess, type AuthzProcess } from "../../support/authz-process.js";
import { installCrds } from "../../support/crds.js";
import { waitFor } from "../../support/e2e.js";
import { testEnvironment } from "../../support/environment.js";

/** A kubeconfig like the admin's whose server is 127.0.0.1:`port`. */
async function kubeconfigVia(port: number): Promise<string> {
  const kc = new KubeConfig();
  kc.loadFromFile(testEnvironment().kubeconfig);
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error("the admin kubeconfig has no cluster");
  const target = new URL(cluster.server);
  const moved = new KubeConfig();
  moved.loadFromOptions({
    clusters: kc.clusters.map((c) => (c.name === cluster.name ? { ...c, server: `https://127.0.0.1:${port}` } : c)),
    users: kc.users,
    contexts: kc.contexts,
    currentContext: kc.currentContext,
  });
  const dir = await mkdtemp(join(tmpdir(), "bulwark-authz-health-"));
  const file = join(dir, "kubeconfig");
  await writeFile(file, moved.exportConfig());
  if (target.hostname !== "127.0.0.1" && target.hostname !== "localhost") throw new Error(`the API server is at ${target.host}, not on loopback`);
  return file;
}

/** Forwards TCP from 127.0.0.1:`port` to the API server (TLS passes through untouched). */
function forward(port: number, to: URL): Promise<{ close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(to.port || 443), to.hostname);
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const close = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", close).on("close", close);
    upstream.on("error", close).on("close", close);
  });
  const close = (): Promise<void> =>
    new Promise((resolve) => {
      server.close(() => resolve());
      sockets.forEach((s) => s.destroy());
    });
  return new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve({ close })));
}

describe("bulwark authz health, readiness and metrics (CLI process)", () => {
  let authz: AuthzProcess | undefined;
  let proxy: { close(): Promise<void> } | undefined;

  beforeAll(async () => {
    await installCrds();
  });

  afterAll(async () => {
    await authz?.stop();
    await proxy?.close();
  });

  it("is live at once, ready only once it has a route table, and then reports the table's version", async () => {
    const port = await freePort();
    const kubeconfig = await kubeconfigVia(port);
    authz = await startAuthzProcess({ kubeconfig, waitReady: false });

    // The API server cannot be reached yet: alive, not ready, no table.
    for (let i = 0; i < 3; i += 1) {
      expect((await authz.get("/healthz")).status).toBe(200);
      expect((await authz.get("/readyz")).status).toBe(503);
      await sleep(500);
    }
    const before = await authz.metrics();
    expect(before).toMatch(/^# TYPE bulwark_authz_route_table_info gauge$/m);
    expect(before).not.toMatch(/^bulwark_authz_route_table_info\{/m);
    expect(await authz.metric("bulwark_authz_routes")).toBe(0);
    expect(before).toMatch(/^# TYPE bulwark_authz_check_duration_seconds histogram$/m);
    expect(before).toMatch(/^process_cpu_seconds_total /m);

    // The API server becomes reachable: the watches list, a table is built, authz is ready.
    const kc = new KubeConfig();
    kc.loadFromFile(testEnvironment().kubeconfig);
    proxy = await forward(port, new URL(kc.getCurrentCluster()?.server ?? ""));
    await waitFor("authz ready", async () => ((await authz?.get("/readyz"))?.status === 200 ? true : undefined), 30_000, 200);
    const after = await authz.metrics();
    const version = /^bulwark_authz_route_table_info\{version="([0-9a-f]{16})"\} 1$/m.exec(after)?.[1];
    expect(version, after.slice(0, 2000)).toBeDefined();
    expect((await authz.get("/healthz")).status).toBe(200);
    expect((await authz.get("/nothing")).status).toBe(404);
  });
});
