import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SnapshotCache, type NackEvent } from "../../../envoy/xds/cache.js";
import { XdsServer } from "../../../envoy/xds/server.js";
import type { Snapshot } from "../../../envoy/snapshot/snapshot.js";
import { XdsType } from "../../../envoy/type-urls.js";
import { freePort } from "../../env/processes.js";
import { testEnvironment } from "../../support/environment.js";
import { CLUSTER_NAME, ROUTE_NAME, sidecarSnapshot, STAT_PREFIX, type SidecarFixture } from "../../support/xds-resources.js";
import { stat, startSidecar, type Sidecar } from "../../support/xds-sidecar.js";
import { get, trafficLoop } from "../../support/http.js";
import { startUpstream, type Upstream } from "../../support/xds-traffic.js";
import { waitFor } from "../../support/poll.js";

/** A cache that also records every response the streams send (type and version), for counting re-sends. */
class RecordingCache extends SnapshotCache {
  readonly sent: { typeUrl: XdsType; version: string }[] = [];

  override recordSent(nodeId: string, typeUrl: XdsType, version: string): void {
    this.sent.push({ typeUrl, version });
    super.recordSent(nodeId, typeUrl, version);
  }

  sentOf(typeUrl: XdsType): string[] {
    return this.sent.filter((s) => s.typeUrl === typeUrl).map((s) => s.version);
  }
}

const RDS = `http.${STAT_PREFIX}.rds.${ROUTE_NAME}`;
/** Counters that move only when Envoy accepts (or changes) configuration from the control plane. */
const CONFIG_COUNTERS = [
  "cluster_manager.cds.update_success",
  "listener_manager.lds.update_success",
  `${RDS}.update_success`,
  `cluster.${CLUSTER_NAME}.update_success`,
  "cluster_manager.cluster_modified",
  "listener_manager.listener_modified",
  "listener_manager.listener_added",
] as const;

async function configCounters(sidecar: Sidecar): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const name of CONFIG_COUNTERS) out[name] = await stat(sidecar, name);
  return out;
}

describe.each([{ delta: false }, { delta: true }])("a real Envoy sidecar over ADS (delta: $delta)", ({ delta }) => {
  const nodeId = `storefront-${delta ? "delta" : "sotw"}.shop`;
  let upstream: Upstream;
  let cache: RecordingCache;
  let server: XdsServer;
  let xdsPort: number;
  let sidecar: Sidecar | undefined;
  let base: SidecarFixture;
  /** The snapshot the sidecar runs (acknowledged last). */
  let good: Snapshot;
  let goodFixture: SidecarFixture;
  const extraServers: XdsServer[] = [];

  beforeAll(async () => {
    upstream = await startUpstream("app");
    base = { listenerPort: await freePort(), upstreamPort: upstream.port, configTag: "v1" };
    cache = new RecordingCache();
    server = new XdsServer({ host: "127.0.0.1", port: 0, cache, authentication: "none" });
    xdsPort = await server.start();
  });

  afterAll(async () => {
    await sidecar?.stop();
    server?.kill();
    for (const s of extraServers) s.kill();
    await upstream?.close();
  });

  function requireSidecar(): Sidecar {
    if (!sidecar) throw new Error("the sidecar did not start (see the first test)");
    return sidecar;
  }

  it("connects, acknowledges every type and serves traffic from the pushed snapshot", async () => {
    // The sidecar starts first (as a pod's would, before the controller has translated its policies) and waits.
    sidecar = await startSidecar({ envoyBinary: testEnvironment().binaries.envoy, nodeId, xdsPort, delta, waitReady: false });
    await waitFor("the sidecar's ADS stream", () => cache.statusInfo(nodeId).streams === 1);
    expect(cache.sent).toEqual([]);
    expect(cache.isInSync(nodeId)).toBe(false);

    good = sidecarSnapshot(base);
    goodFixture = base;
    expect(cache.setSnapshot(nodeId, good)).toEqual({ ok: true, changed: true });
    await waitFor("the sidecar to acknowledge its snapshot", () => cache.isInSync(nodeId));
    // Clusters and endpoints went out before the listener and routes that use them.
    const firstOfType = (type: XdsType): number => cache.sent.findIndex((s) => s.typeUrl === type);
    expect(firstOfType(XdsType.Cluster)).toBeLessThan(firstOfType(XdsType.Listener));
    expect(firstOfType(XdsType.Endpoints)).toBeLessThan(firstOfType(XdsType.Route));
    await waitFor("the listener to serve", async () => (await get(base.listenerPort, "/").catch(() => undefined))?.status === 200);

    const status = cache.statusInfo(nodeId);
    expect(status.streams).toBe(1);
    expect(status.snapshotVersion).toBe(good.version);
    for (const [type, short] of [
      [XdsType.Cluster, "CDS"],
      [XdsType.Endpoints, "EDS"],
      [XdsType.Listener, "LDS"],
      [XdsType.Route, "RDS"],
    ] as const) {
      expect(status.types[short]).toEqual({ sentVersion: good.typeVersions.get(type), ackedVersion: good.typeVersions.get(type) });
    }

    const answer = await get(base.listenerPort, "/orders/42");
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual({ upstream: "app", path: "/orders/42" });
    expect(answer.headers["x-bulwark-config"]).toBe("v1");
    expect(upstream.requests).toBeGreaterThan(0);
    expect(await stat(requireSidecar(), "control_plane.connected_state")).toBe(1);
  });

  it("applies an update, re-sending only the resource that changed", async () => {
    const sentBefore = cache.sent.length;
    const fixture: SidecarFixture = { ...base, configTag: "v2", directResponse: { prefix: "/maintenance", status: 503, body: "down for maintenance" } };
    const next = sidecarSnapshot(fixture);
    expect(cache.setSnapshot(nodeId, next)).toEqual({ ok: true, changed: true });

    await waitFor("the direct response route", async () => (await get(base.listenerPort, "/maintenance/now")).status === 503);
    const direct = await get(base.listenerPort, "/maintenance/now");
    expect(direct.body).toBe("down for maintenance");
    expect(upstream.requests).toBeGreaterThan(0);
    const proxied = await get(base.listenerPort, "/orders/43");
    expect(proxied.status).toBe(200);
    expect(proxied.headers["x-bulwark-config"]).toBe("v2");

    await waitFor("the sidecar to acknowledge the update", () => cache.isInSync(nodeId));
    // Clusters, endpoints and the listener did not change: their versions are content hashes, so only RDS went out.
    expect(cache.sent.slice(sentBefore)).toEqual([{ typeUrl: XdsType.Route, version: next.typeVersions.get(XdsType.Route) }]);
    good = next;
    goodFixture = fixture;
  });

  it("records a NACK with Envoy's error, keeps the last good config and does not re-send the rejected version", async () => {
    const envoy = requireSidecar();
    const nacks: NackEvent[] = [];
    const unsubscribe = cache.onNack((e) => nacks.push(e));
    try {
      const rejectedBefore = await stat(envoy, `${RDS}.update_rejected`);
      const bad = sidecarSnapshot({ ...goodFixture, configTag: "v3-bad", invalidRegex: true });
      const badRouteVersion = bad.typeVersions.get(XdsType.Route);
      expect(cache.setSnapshot(nodeId, bad)).toEqual({ ok: true, changed: true });

      await waitFor("the NACK of the route configuration", () => nacks.length > 0);
      expect(nacks[0]).toMatchObject({ nodeId, typeUrl: XdsType.Route, version: badRouteVersion });
      expect(nacks[0]?.error).toContain("missing ]: [unclosed"); // RE2, compiling the safe_regex
      const status = cache.statusInfo(nodeId);
      expect(status.types.RDS?.nack).toMatchObject({ version: badRouteVersion, error: nacks[0]?.error });
      expect(status.types.RDS?.ackedVersion).toBe(good.typeVersions.get(XdsType.Route));
      expect(cache.isInSync(nodeId)).toBe(false);
      expect(await stat(envoy, `${RDS}.update_rejected`)).toBe(rejectedBefore + 1);

      // Traffic keeps flowing on the last good route configuration (v2 with its direct response).
      const proxied = await get(base.listenerPort, "/orders/44");
      expect(proxied.status).toBe(200);
      expect(proxied.headers["x-bulwark-config"]).toBe("v2");
      expect((await get(base.listenerPort, "/maintenance")).status).toBe(503);

      // No resend loop: over two seconds the rejected version goes out exactly once and Envoy rejects nothing more.
      const sentRoutes = cache.sentOf(XdsType.Route).length;
      await new Promise((resolve) => setTimeout(resolve, 2000));
      expect(cache.sentOf(XdsType.Route)).toHaveLength(sentRoutes);
      expect(cache.sentOf(XdsType.Route).filter((v) => v === badRouteVersion)).toHaveLength(1);
      expect(nacks).toHaveLength(1);
      expect(await stat(envoy, `${RDS}.update_rejected`)).toBe(rejectedBefore + 1);

      // A corrected version is accepted and clears the NACK.
      const fixed: SidecarFixture = { ...goodFixture, configTag: "v4" };
      const next = sidecarSnapshot(fixed);
      cache.setSnapshot(nodeId, next);
      await waitFor("the sidecar to acknowledge the corrected version", () => cache.isInSync(nodeId));
      expect(cache.statusInfo(nodeId).types.RDS?.nack).toBeUndefined();
      expect((await get(base.listenerPort, "/orders/45")).headers["x-bulwark-config"]).toBe("v4");
      good = next;
      goodFixture = fixed;
    } finally {
      unsubscribe();
    }
  });

  it("survives a control-plane restart with zero failed requests and no config churn", async () => {
    const envoy = requireSidecar();
    expect(cache.isInSync(nodeId)).toBe(true);
    const before = await configCounters(envoy);
    for (const name of CONFIG_COUNTERS.filter((n) => n.endsWith("update_success"))) expect(before[name], name).toBeGreaterThan(0);

    const traffic = trafficLoop(
      () => get(base.listenerPort, "/orders/restart"),
      (a) => a.status === 200 && a.headers["x-bulwark-config"] === "v4",
      10,
    );
    try {
      await waitFor("traffic before the restart", () => traffic.report.ok >= 5);

      await server.stop(500);
      await waitFor("Envoy to notice the control plane is gone", async () => (await stat(envoy, "control_plane.connected_state")) === 0);
      const okWhileDown = traffic.report.ok;
      await waitFor("traffic while the control plane is down", () => traffic.report.ok >= okWhileDown + 5);

      // A restarted controller: empty cache, the same inputs translated and encoded afresh.
      const freshCache = new RecordingCache();
      const fresh = sidecarSnapshot(goodFixture);
      expect(fresh.version).toBe(good.version);
      freshCache.setSnapshot(nodeId, fresh);
      const restarted = new XdsServer({ host: "127.0.0.1", port: xdsPort, cache: freshCache, authentication: "none" });
      extraServers.push(restarted);
      expect(await restarted.start()).toBe(xdsPort);

      await waitFor("the sidecar to reconnect and report the versions it runs", () => freshCache.isInSync(nodeId), 30_000);
      expect(await stat(envoy, "control_plane.connected_state")).toBe(1);
      expect(freshCache.statusInfo(nodeId).streams).toBe(1);
      // Let any re-sent configuration reach Envoy before counting.
      const okAfter = traffic.report.ok;
      await waitFor("traffic after the reconnect", () => traffic.report.ok >= okAfter + 20);

      expect(await configCounters(envoy)).toEqual(before);
      expect(freshCache.sent).toEqual([]);
    } finally {
      const report = await traffic.stop();
      expect(report.failures).toEqual([]);
      expect(report.failed).toBe(0);
      expect(report.ok).toBeGreaterThan(30);
    }
  });
});
