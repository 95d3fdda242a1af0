import { register } from "@grpc/grpc-js-xds";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeResource } from "../../../envoy/proto/encode.js";
import { XdsServer } from "../../../envoy/xds/server.js";
import { makeSnapshot, type ResourceInput, type Snapshot } from "../../../envoy/snapshot/snapshot.js";
import { XdsType } from "../../../envoy/type-urls.js";
import { echoClient, startEchoServer, type EchoCaller, type EchoServer } from "../../support/xds-echo.js";
import { edsClusterJson, loadAssignmentJson } from "../../support/xds-resources.js";
import { waitFor } from "../../support/poll.js";

const SERVICE = "echo.bulwark.test";
const ROUTES = "echo-routes";
const CLUSTER = "echo";
const NODE_ID = "grpc-client-1.shop";

/** What a proxyless gRPC client needs: an API listener for the service name, its routes, the cluster and its endpoints. */
function echoSnapshot(endpointPort: number): Snapshot {
  const listener = {
    "@type": "type.googleapis.com/envoy.config.listener.v3.Listener",
    name: SERVICE,
    api_listener: {
      api_listener: {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        stat_prefix: "echo",
        rds: { config_source: { ads: {}, resource_api_version: "V3" }, route_config_name: ROUTES },
        http_filters: [{ name: "envoy.filters.http.router", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" } }],
      },
    },
  };
  const routes = {
    "@type": "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
    name: ROUTES,
    virtual_hosts: [{ name: "echo", domains: [SERVICE], routes: [{ match: { prefix: "/bulwark.test.Echo/" }, route: { cluster: CLUSTER } }] }],
  };
  const inputs: ResourceInput[] = [
    { typeUrl: XdsType.Listener, name: SERVICE, body: encodeResource(listener), references: [{ typeUrl: XdsType.Route, name: ROUTES }] },
    { typeUrl: XdsType.Route, name: ROUTES, body: encodeResource(routes) },
    { typeUrl: XdsType.Cluster, name: CLUSTER, body: encodeResource(edsClusterJson(CLUSTER)), references: [{ typeUrl: XdsType.Endpoints, name: CLUSTER }] },
    { typeUrl: XdsType.Endpoints, name: CLUSTER, body: encodeResource(loadAssignmentJson(CLUSTER, [endpointPort])) },
  ];
  return makeSnapshot(inputs);
}

describe("an independent xDS client (@grpc/grpc-js-xds)", () => {
  let server: XdsServer;
  let blue: EchoServer;
  let green: EchoServer;
  let client: EchoCaller | undefined;

  beforeAll(async () => {
    [blue, green] = await Promise.all([startEchoServer("blue"), startEchoServer("green")]);
    server = new XdsServer({ host: "127.0.0.1", port: 0, authentication: "none" });
    const port = await server.start();
    process.env.GRPC_XDS_BOOTSTRAP_CONFIG = JSON.stringify({
      xds_servers: [{ server_uri: `127.0.0.1:${port}`, channel_creds: [{ type: "insecure" }], server_features: ["xds_v3"] }],
      node: { id: NODE_ID, cluster: "shop/grpc-client", locality: { region: "local", zone: "loopback" } },
    });
    register();
  });

  afterAll(() => {
    client?.close();
    server?.kill();
    blue?.stop();
    green?.stop();
  });

  it("resolves xds:/// through the server and follows an endpoint change", async () => {
    const first = echoSnapshot(blue.port);
    expect(server.cache.setSnapshot(NODE_ID, first)).toEqual({ ok: true, changed: true });
    client = echoClient(`xds:///${SERVICE}`);

    const reply = await client.echo("hello", 15_000);
    expect(reply).toEqual({ message: "hello", server: "blue" });
    expect(blue.calls).toBe(1);
    await waitFor("the gRPC client to acknowledge listener, routes, cluster and endpoints", () => server.cache.isInSync(NODE_ID));
    const status = server.cache.statusInfo(NODE_ID);
    expect(status.streams).toBe(1);
    expect(Object.keys(status.types).sort()).toEqual(["CDS", "EDS", "LDS", "RDS"]);
    for (const state of Object.values(status.types)) expect(state.nack).toBeUndefined();

    // Move the service to another backend: only the ClusterLoadAssignment changes.
    const moved = echoSnapshot(green.port);
    expect(moved.typeVersions.get(XdsType.Listener)).toBe(first.typeVersions.get(XdsType.Listener));
    server.cache.setSnapshot(NODE_ID, moved);
    const caller = client;
    await waitFor("calls to reach the new endpoint", async () => (await caller.echo("again")).server === "green");
    await waitFor("the gRPC client to acknowledge the new endpoints", () => server.cache.isInSync(NODE_ID));
    expect(server.cache.statusInfo(NODE_ID).types.EDS?.ackedVersion).toBe(moved.typeVersions.get(XdsType.Endpoints));
    const callsOnBlue = blue.calls;
    for (let i = 0; i < 5; i++) expect((await caller.echo(`call ${i}`)).server).toBe("green");
    expect(blue.calls).toBe(callsOnBlue);
  });
});
