import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SnapshotCache } from "../../../envoy/xds/cache.js";
import { XdsServer } from "../../../envoy/xds/server.js";
import type { XdsType } from "../../../envoy/type-urls.js";
import { freePort } from "../../env/processes.js";
import { testEnvironment } from "../../support/environment.js";
import { sidecarSnapshot } from "../../support/xds-resources.js";
import { stat, startSidecar, type Sidecar } from "../../support/xds-sidecar.js";
import { get } from "../../support/http.js";
import { startUpstream, type Upstream } from "../../support/xds-traffic.js";
import { waitFor } from "../../support/poll.js";

/** Counts the streams each sidecar opens and the responses sent to it. */
class CountingCache extends SnapshotCache {
  opened = 0;
  sent = 0;

  override streamOpened(nodeId: string): void {
    this.opened++;
    super.streamOpened(nodeId);
  }

  override recordSent(nodeId: string, typeUrl: XdsType, version: string): void {
    this.sent++;
    super.recordSent(nodeId, typeUrl, version);
  }
}

/**
 * The server's maximum connection age (--xds-max-connection-age): a real Envoy whose connection
 * grows old is told to go away, reconnects on its own, keeps serving its configuration meanwhile,
 * and is sent nothing again, since it already runs the current versions.
 */
describe.each([{ delta: false }, { delta: true }])("a sidecar's connection reaching the maximum age (delta: $delta)", ({ delta }) => {
  const nodeId = `aged-${delta ? "delta" : "sotw"}.shop`;
  let upstream: Upstream;
  let cache: CountingCache;
  let server: XdsServer;
  let sidecar: Sidecar | undefined;

  beforeAll(async () => {
    upstream = await startUpstream("app");
    cache = new CountingCache();
    server = new XdsServer({ host: "127.0.0.1", port: 0, cache, authentication: "none", maxConnectionAgeMs: 1500, connectionAgeGraceMs: 200 });
  });

  afterAll(async () => {
    await sidecar?.stop();
    server?.kill();
    await upstream?.close();
  });

  it("reconnects, keeps serving, and is sent nothing it already runs", async () => {
    const xdsPort = await server.start();
    const listenerPort = await freePort();
    cache.setSnapshot(nodeId, sidecarSnapshot({ listenerPort, upstreamPort: upstream.port, configTag: "aged" }));
    sidecar = await startSidecar({ envoyBinary: testEnvironment().binaries.envoy, nodeId, xdsPort, delta, waitReady: false });
    await waitFor("the sidecar to acknowledge its snapshot", () => cache.isInSync(nodeId));
    await waitFor("the listener to serve", async () => (await get(listenerPort, "/").catch(() => undefined))?.status === 200);
    const sentOnce = cache.sent;
    expect(cache.opened).toBe(1);

    // Every request during the reconnections is answered from the configuration the sidecar runs.
    const statuses: number[] = [];
    await waitFor(
      "two reconnections after the connection age",
      async () => {
        statuses.push((await get(listenerPort, "/orders/1")).status);
        return cache.opened >= 3 && cache.isInSync(nodeId);
      },
      20_000,
      200,
    );
    expect(new Set(statuses)).toEqual(new Set([200]));
    expect(cache.sent).toBe(sentOnce);
    expect(await stat(sidecar, "control_plane.connected_state")).toBe(1);
  });
});
