/**
 * A second stream under a real sidecar's node id (what an impostor did before streams were
 * authenticated, and what a confused client can still do) must not make a rejection stick: a
 * NACK of a version the real Envoy acknowledged is not recorded, and a rejection that is not of
 * the version the sidecar should run now is not reported. Real Envoy, in-process xDS server.
 */
import { credentials, makeGenericClientConstructor, type ClientDuplexStream } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { aggregatedDiscoveryService, type DiscoveryRequest, type DiscoveryResponse } from "../../../envoy/xds/ads-protocol.js";
import { SnapshotCache } from "../../../envoy/xds/cache.js";
import { XdsServer } from "../../../envoy/xds/server.js";
import { XdsType } from "../../../envoy/type-urls.js";
import { freePort } from "../../env/processes.js";
import { testEnvironment } from "../../support/environment.js";
import { sidecarSnapshot, type SidecarFixture } from "../../support/xds-resources.js";
import { startSidecar, type Sidecar } from "../../support/xds-sidecar.js";
import { startUpstream, type Upstream } from "../../support/xds-traffic.js";
import { waitFor } from "../../support/poll.js";

const AdsClient = makeGenericClientConstructor(aggregatedDiscoveryService(), "AggregatedDiscoveryService");

describe("forged ACK/NACKs under a real sidecar's node id", () => {
  const nodeId = "storefront-0.shop";
  let upstream: Upstream;
  let cache: SnapshotCache;
  let server: XdsServer;
  let sidecar: Sidecar;
  let base: SidecarFixture;

  beforeAll(async () => {
    upstream = await startUpstream("app");
    base = { listenerPort: await freePort(), upstreamPort: upstream.port, configTag: "v1" };
    cache = new SnapshotCache();
    server = new XdsServer({ host: "127.0.0.1", port: 0, cache, authentication: "none" });
    const port = await server.start();
    cache.setSnapshot(nodeId, sidecarSnapshot(base));
    sidecar = await startSidecar({ envoyBinary: testEnvironment().binaries.envoy, nodeId, xdsPort: port, delta: false });
    await waitFor("the real sidecar to acknowledge its snapshot", () => cache.isInSync(nodeId));
  });

  afterAll(async () => {
    await sidecar?.stop();
    server?.kill();
    await upstream?.close();
  });

  it("a NACK of the acknowledged listener is not recorded, its text goes nowhere, and a later routes-only edit is not 'rejected'", async () => {
    const client = new AdsClient(`127.0.0.1:${server.port ?? 0}`, credentials.createInsecure());
    const call = (client as unknown as { StreamAggregatedResources(): ClientDuplexStream<DiscoveryRequest, DiscoveryResponse> }).StreamAggregatedResources();
    const responses: DiscoveryResponse[] = [];
    call.on("data", (r: DiscoveryResponse) => responses.push(r));
    call.on("error", () => undefined);
    call.write({ node: { id: nodeId }, type_url: XdsType.Listener });
    await waitFor("the listener sent to the second stream", () => responses.length > 0);
    const lds = responses[0];
    call.write({ type_url: XdsType.Listener, response_nonce: lds?.nonce, version_info: "", error_detail: { code: 3, message: "<script>forged</script> listener rejected" } });
    // Wait until the server has read the NACK: the stream answers nothing more, so look for its effect through a later request.
    call.write({ type_url: XdsType.Cluster });
    await waitFor("the second stream's cluster response", () => responses.some((r) => r.type_url === XdsType.Cluster));
    expect(cache.statusInfo(nodeId).types.LDS?.nack).toBeUndefined();
    expect(cache.currentRejection(nodeId)).toBeUndefined();
    expect(cache.isInSync(nodeId)).toBe(true);

    // A routes-only edit, run by the real sidecar: no rejection, in sync.
    cache.setSnapshot(nodeId, sidecarSnapshot({ ...base, configTag: "v2" }));
    await waitFor("the real sidecar to acknowledge the routes-only edit", () => cache.isInSync(nodeId));
    expect(cache.currentRejection(nodeId)).toBeUndefined();
    call.cancel();
    client.close();
  });
});
