import { describe, expect, it } from "vitest";
import type { DeltaDiscoveryResponse, DiscoveryResponse } from "./ads-protocol.js";
import { SnapshotCache } from "./cache.js";
import { DeltaStream } from "./delta-stream.js";
import { makeSnapshot, type ResourceInput } from "../snapshot/snapshot.js";
import { SotwStream } from "./sotw-stream.js";
import { XdsType } from "../type-urls.js";

const supported = new Set<string>(Object.values(XdsType));
const node = { id: "shop-1.shop" };

function resources(routeBody: string): ResourceInput[] {
  return [
    { typeUrl: XdsType.Cluster, name: "app", body: Buffer.from("cluster-app"), references: [{ typeUrl: XdsType.Endpoints, name: "app" }] },
    { typeUrl: XdsType.Endpoints, name: "app", body: Buffer.from("endpoints-app") },
    { typeUrl: XdsType.Listener, name: "inbound", body: Buffer.from("listener"), references: [{ typeUrl: XdsType.Route, name: "inbound" }] },
    { typeUrl: XdsType.Route, name: "inbound", body: Buffer.from(routeBody) },
  ];
}

describe("snapshots", () => {
  it("version by content, independent of order, and refuse dangling references", () => {
    const a = makeSnapshot(resources("r1"));
    const b = makeSnapshot([...resources("r1")].reverse());
    expect(a.version).toBe(b.version);
    expect(makeSnapshot(resources("r2")).typeVersions.get(XdsType.Listener)).toBe(a.typeVersions.get(XdsType.Listener));
    expect(makeSnapshot(resources("r2")).typeVersions.get(XdsType.Route)).not.toBe(a.typeVersions.get(XdsType.Route));
    const cache = new SnapshotCache();
    const result = cache.setSnapshot(node.id, makeSnapshot(resources("r1").filter((r) => r.typeUrl !== XdsType.Route)));
    expect(result).toEqual({ ok: false, problems: ["LDS inbound refers to RDS inbound, which the snapshot does not have"] });
    expect(cache.getSnapshot(node.id)).toBeUndefined();
  });
});

describe("state-of-the-world stream", () => {
  function open(cache: SnapshotCache): { stream: SotwStream; sent: DiscoveryResponse[] } {
    const sent: DiscoveryResponse[] = [];
    return { stream: new SotwStream(cache, (r) => sent.push(r), supported), sent };
  }

  it("answers once a snapshot exists, records ACKs, and does not resend a NACKed version", () => {
    const cache = new SnapshotCache();
    const { stream, sent } = open(cache);
    const nacks: string[] = [];
    cache.onNack((e) => nacks.push(`${e.typeUrl} ${e.error}`));
    stream.onRequest({ node, type_url: XdsType.Cluster });
    stream.onRequest({ type_url: XdsType.Listener });
    expect(sent).toEqual([]);
    cache.setSnapshot(node.id, makeSnapshot(resources("r1")));
    expect(sent.map((r) => r.type_url)).toEqual([XdsType.Cluster, XdsType.Listener]);
    const [cds, lds] = sent;
    stream.onRequest({ type_url: XdsType.Cluster, version_info: cds?.version_info, response_nonce: cds?.nonce });
    stream.onRequest({ type_url: XdsType.Listener, version_info: lds?.version_info, response_nonce: lds?.nonce });
    stream.onRequest({ type_url: XdsType.Endpoints, resource_names: ["app"] });
    const eds = sent[2];
    stream.onRequest({ type_url: XdsType.Endpoints, resource_names: ["app"], version_info: eds?.version_info, response_nonce: eds?.nonce });
    sent.splice(2, 1);
    stream.onRequest({ type_url: XdsType.Route, resource_names: ["inbound"] });
    const rds = sent[2];
    expect(rds?.resources.map((r) => r.value.toString())).toEqual(["r1"]);
    stream.onRequest({ type_url: XdsType.Route, resource_names: ["inbound"], version_info: rds?.version_info, response_nonce: rds?.nonce });

    cache.setSnapshot(node.id, makeSnapshot(resources("bad")));
    const bad = sent[3];
    expect(bad?.resources.map((r) => r.value.toString())).toEqual(["bad"]);
    stream.onRequest({
      type_url: XdsType.Route,
      resource_names: ["inbound"],
      version_info: rds?.version_info,
      response_nonce: bad?.nonce,
      error_detail: { message: "route: unknown field" },
    });
    expect(nacks).toEqual([`${XdsType.Route} route: unknown field`]);
    const status = cache.statusInfo(node.id);
    expect(status.types.RDS).toMatchObject({ ackedVersion: rds?.version_info, nack: { version: bad?.version_info, error: "route: unknown field" } });
    expect(cache.isInSync(node.id)).toBe(false);
    // The same request again (Envoy repeats its last good version) must not bring the rejected version back.
    stream.onRequest({ type_url: XdsType.Route, resource_names: ["inbound"], version_info: rds?.version_info });
    expect(sent).toHaveLength(4);

    cache.setSnapshot(node.id, makeSnapshot(resources("fixed")));
    const fixed = sent[4];
    expect(fixed?.resources.map((r) => r.value.toString())).toEqual(["fixed"]);
    stream.onRequest({ type_url: XdsType.Route, resource_names: ["inbound"], version_info: fixed?.version_info, response_nonce: fixed?.nonce });
    expect(cache.statusInfo(node.id).types.RDS?.nack).toBeUndefined();
    expect(cache.isInSync(node.id)).toBe(true);
  });

  it("sends nothing to a reconnecting sidecar that already runs the current versions", () => {
    const cache = new SnapshotCache();
    const snapshot = makeSnapshot(resources("r1"));
    cache.setSnapshot(node.id, snapshot);
    const { stream, sent } = open(cache);
    stream.onRequest({ node, type_url: XdsType.Cluster, version_info: snapshot.typeVersions.get(XdsType.Cluster) });
    stream.onRequest({ type_url: XdsType.Route, resource_names: ["inbound"], version_info: snapshot.typeVersions.get(XdsType.Route) });
    expect(sent).toEqual([]);
    stream.onRequest({ type_url: XdsType.Listener, version_info: "stale" });
    expect(sent.map((r) => r.type_url)).toEqual([XdsType.Listener]);
  });

  it("sends nothing to a sidecar that reconnects before its snapshot exists, once the same snapshot arrives", () => {
    const snapshot = makeSnapshot(resources("r1"));
    const cache = new SnapshotCache();
    const { stream, sent } = open(cache);
    stream.onRequest({ node, type_url: XdsType.Cluster, version_info: snapshot.typeVersions.get(XdsType.Cluster) });
    stream.onRequest({ type_url: XdsType.Listener, version_info: snapshot.typeVersions.get(XdsType.Listener) });
    cache.setSnapshot(node.id, snapshot);
    expect(sent).toEqual([]);
    expect(cache.statusInfo(node.id).types.LDS?.ackedVersion).toBe(snapshot.typeVersions.get(XdsType.Listener));
    cache.setSnapshot(node.id, makeSnapshot(resources("r2").map((r) => ({ ...r, body: Buffer.concat([r.body, Buffer.from("!")]) }))));
    expect(sent.map((r) => r.type_url)).toEqual([XdsType.Cluster, XdsType.Listener]);
  });

  it("pushes a change in dependency order: clusters, endpoints, listeners, routes", () => {
    const cache = new SnapshotCache();
    cache.setSnapshot(node.id, makeSnapshot(resources("r1")));
    const { stream, sent } = open(cache);
    stream.onRequest({ node, type_url: XdsType.Route, resource_names: ["inbound"] });
    stream.onRequest({ type_url: XdsType.Listener });
    stream.onRequest({ type_url: XdsType.Endpoints, resource_names: ["app"] });
    stream.onRequest({ type_url: XdsType.Cluster });
    sent.length = 0;
    const changed = resources("r2").map((r) => ({ ...r, body: Buffer.concat([r.body, Buffer.from("+")]) }));
    cache.setSnapshot(node.id, makeSnapshot(changed));
    expect(sent.map((r) => r.type_url)).toEqual([XdsType.Cluster, XdsType.Endpoints, XdsType.Listener, XdsType.Route]);
  });

  it("answers a new subscription at a version whose earlier response was rejected", () => {
    const cache = new SnapshotCache();
    const withTwoClusters: ResourceInput[] = [
      ...resources("r1"),
      { typeUrl: XdsType.Cluster, name: "other", body: Buffer.from("cluster-other"), references: [{ typeUrl: XdsType.Endpoints, name: "other" }] },
      { typeUrl: XdsType.Endpoints, name: "other", body: Buffer.from("endpoints-other") },
    ];
    cache.setSnapshot(node.id, makeSnapshot(withTwoClusters));
    const { stream, sent } = open(cache);
    stream.onRequest({ node, type_url: XdsType.Endpoints, resource_names: ["app"] });
    const rejected = sent[0];
    stream.onRequest({ type_url: XdsType.Endpoints, resource_names: ["app"], response_nonce: rejected?.nonce, error_detail: { message: "bad endpoints" } });
    expect(sent).toHaveLength(1);
    // The sidecar now also needs the endpoints of "other" (same snapshot, same type version): it must get them.
    stream.onRequest({ type_url: XdsType.Endpoints, resource_names: ["app", "other"] });
    expect(sent).toHaveLength(2);
    expect(sent[1]?.resources.map((r) => r.value.toString())).toEqual(["endpoints-app", "endpoints-other"]);
    // And the same subscription again is not answered twice.
    stream.onRequest({ type_url: XdsType.Endpoints, resource_names: ["app", "other"], response_nonce: sent[1]?.nonce, error_detail: { message: "bad endpoints" } });
    stream.onRequest({ type_url: XdsType.Endpoints, resource_names: ["app", "other"] });
    expect(sent).toHaveLength(2);
  });

  it("sends a rejected version again, once, when it comes back after another version", () => {
    const cache = new SnapshotCache();
    const nacks: string[] = [];
    cache.onNack((e) => nacks.push(e.version));
    const { stream, sent } = open(cache);
    stream.onRequest({ node, type_url: XdsType.Route, resource_names: ["inbound"] });
    const bad = makeSnapshot(resources("bad"));
    cache.setSnapshot(node.id, bad);
    stream.onRequest({ type_url: XdsType.Route, resource_names: ["inbound"], response_nonce: sent[0]?.nonce, error_detail: { message: "bad route" } });
    cache.setSnapshot(node.id, makeSnapshot(resources("good")));
    stream.onRequest({ type_url: XdsType.Route, resource_names: ["inbound"], version_info: sent[1]?.version_info, response_nonce: sent[1]?.nonce });
    expect(cache.statusInfo(node.id).types.RDS).toEqual({ sentVersion: sent[1]?.version_info, ackedVersion: sent[1]?.version_info });
    // The controller goes back to the rejected content: the sidecar must be asked again, so its status tells the truth.
    cache.setSnapshot(node.id, bad);
    expect(sent).toHaveLength(3);
    expect(sent[2]?.version_info).toBe(bad.typeVersions.get(XdsType.Route));
    stream.onRequest({
      type_url: XdsType.Route,
      resource_names: ["inbound"],
      version_info: sent[1]?.version_info,
      response_nonce: sent[2]?.nonce,
      error_detail: { message: "bad route" },
    });
    expect(nacks).toEqual([bad.typeVersions.get(XdsType.Route), bad.typeVersions.get(XdsType.Route)]);
    expect(cache.statusInfo(node.id).types.RDS?.nack?.version).toBe(bad.typeVersions.get(XdsType.Route));
    stream.onRequest({ type_url: XdsType.Route, resource_names: ["inbound"], version_info: sent[1]?.version_info });
    expect(sent).toHaveLength(3);
  });

  it("refuses a stream whose first request has no node id", () => {
    const { stream } = open(new SnapshotCache());
    expect(() => stream.onRequest({ type_url: XdsType.Cluster })).toThrow("node.id");
  });
});

describe("delta stream", () => {
  function open(cache: SnapshotCache): { stream: DeltaStream; sent: DeltaDiscoveryResponse[] } {
    const sent: DeltaDiscoveryResponse[] = [];
    return { stream: new DeltaStream(cache, (r) => sent.push(r), supported), sent };
  }

  it("sends only what changed, removals, and nothing the sidecar already has", () => {
    const cache = new SnapshotCache();
    const first = makeSnapshot(resources("r1"));
    cache.setSnapshot(node.id, first);
    const { stream, sent } = open(cache);
    stream.onRequest({ node, type_url: XdsType.Cluster });
    expect(sent[0]?.resources.map((r) => r.name)).toEqual(["app"]);
    stream.onRequest({ type_url: XdsType.Cluster, response_nonce: sent[0]?.nonce });
    expect(cache.statusInfo(node.id).types.CDS?.ackedVersion).toBe(first.typeVersions.get(XdsType.Cluster));

    stream.onRequest({ type_url: XdsType.Route, resource_names_subscribe: ["inbound"] });
    expect(sent[1]?.resources.map((r) => r.resource.value.toString())).toEqual(["r1"]);
    cache.setSnapshot(node.id, makeSnapshot(resources("r2")));
    expect(sent.slice(2).map((r) => `${r.type_url} ${r.resources.map((x) => x.name).join()}`)).toEqual([`${XdsType.Route} inbound`]);

    const withoutApp = resources("r2").filter((r) => r.name !== "app");
    cache.setSnapshot(node.id, makeSnapshot(withoutApp));
    expect(sent.at(-1)).toMatchObject({ type_url: XdsType.Cluster, removed_resources: ["app"], resources: [] });
  });

  it("gives a reconnecting sidecar nothing when its initial versions match", () => {
    const cache = new SnapshotCache();
    const snapshot = makeSnapshot(resources("r1"));
    cache.setSnapshot(node.id, snapshot);
    const { stream, sent } = open(cache);
    const versions: Record<string, string> = {};
    for (const [name, r] of snapshot.resources.get(XdsType.Cluster) ?? []) versions[name] = r.version;
    stream.onRequest({ node, type_url: XdsType.Cluster, initial_resource_versions: versions });
    expect(sent).toEqual([]);
    expect(cache.statusInfo(node.id).types.CDS?.ackedVersion).toBe(snapshot.typeVersions.get(XdsType.Cluster));
  });

  it("records a NACK and does not resend the rejected resource", () => {
    const cache = new SnapshotCache();
    cache.setSnapshot(node.id, makeSnapshot(resources("r1")));
    const { stream, sent } = open(cache);
    stream.onRequest({ node, type_url: XdsType.Route, resource_names_subscribe: ["inbound"] });
    stream.onRequest({ type_url: XdsType.Route, response_nonce: sent[0]?.nonce, error_detail: { message: "bad route" } });
    expect(cache.statusInfo(node.id).types.RDS?.nack?.error).toBe("bad route");
    stream.onRequest({ type_url: XdsType.Route });
    expect(sent).toHaveLength(1);
  });
});

describe("a replaced EDS cluster gets its unchanged endpoints again (Envoy warms it only then)", () => {
  const replaced = (): ResourceInput[] => resources("r1").map((r) => (r.typeUrl === XdsType.Cluster ? { ...r, body: Buffer.from("cluster-app-with-tls") } : r));

  it("state of the world: the endpoints follow the Cluster response", () => {
    const cache = new SnapshotCache();
    cache.setSnapshot(node.id, makeSnapshot(resources("r1")));
    const sent: DiscoveryResponse[] = [];
    const stream = new SotwStream(cache, (r) => sent.push(r), supported);
    stream.onRequest({ node, type_url: XdsType.Cluster });
    stream.onRequest({ type_url: XdsType.Endpoints, resource_names: ["app"] });
    sent.length = 0;
    cache.setSnapshot(node.id, makeSnapshot(replaced()));
    expect(sent.map((r) => r.type_url)).toEqual([XdsType.Cluster, XdsType.Endpoints]);
    expect(sent[1]?.resources.map((r) => r.value.toString())).toEqual(["endpoints-app"]);
  });

  it("delta: the endpoints of each cluster sent are sent again", () => {
    const cache = new SnapshotCache();
    cache.setSnapshot(node.id, makeSnapshot(resources("r1")));
    const sent: DeltaDiscoveryResponse[] = [];
    const stream = new DeltaStream(cache, (r) => sent.push(r), supported);
    stream.onRequest({ node, type_url: XdsType.Cluster });
    stream.onRequest({ type_url: XdsType.Endpoints, resource_names_subscribe: ["app"] });
    sent.length = 0;
    cache.setSnapshot(node.id, makeSnapshot(replaced()));
    expect(sent.map((r) => `${r.type_url} ${r.resources.map((x) => x.name).join()}`)).toEqual([`${XdsType.Cluster} app`, `${XdsType.Endpoints} app`]);
  });
});

describe("connected sidecars", () => {
  it("counts sidecars with at least one open stream, through reconnections and a second stream", () => {
    const cache = new SnapshotCache();
    const connections: string[] = [];
    cache.onConnection((e) => connections.push(`${e.nodeId} ${e.connected ? "up" : "down"} ${cache.connectedSidecars()}`));
    const a1 = new SotwStream(cache, () => undefined, supported);
    const a2 = new DeltaStream(cache, () => undefined, supported);
    const b = new SotwStream(cache, () => undefined, supported);
    a1.onRequest({ node: { id: "a.shop" }, type_url: XdsType.Cluster });
    a2.onRequest({ node: { id: "a.shop" }, type_url: XdsType.Cluster });
    b.onRequest({ node: { id: "b.shop" }, type_url: XdsType.Cluster });
    expect(cache.connectedSidecars()).toBe(2);
    a1.close();
    expect(cache.connectedSidecars()).toBe(2);
    a2.close();
    b.close();
    b.close();
    expect(cache.connectedSidecars()).toBe(0);
    expect(connections).toEqual(["a.shop up 1", "b.shop up 2", "a.shop down 1", "b.shop down 0"]);
  });
});
