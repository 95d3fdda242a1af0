import { describe, expect, it } from "vitest";
import type { DiscoveryResponse } from "./ads-protocol.js";
import { SnapshotCache } from "./cache.js";
import { MAX_SIDECAR_ERROR_LENGTH, nodeIdProblem, plainSidecarText } from "./sidecar-text.js";
import { makeSnapshot, type ResourceInput } from "../snapshot/snapshot.js";
import { SotwStream } from "./sotw-stream.js";
import { XdsType } from "../type-urls.js";

const supported = new Set<string>(Object.values(XdsType));

function resources(listener: string, route: string): ResourceInput[] {
  return [
    { typeUrl: XdsType.Listener, name: "inbound", body: Buffer.from(listener), references: [{ typeUrl: XdsType.Route, name: "inbound" }] },
    { typeUrl: XdsType.Route, name: "inbound", body: Buffer.from(route) },
  ];
}

/** A stream under `nodeId` that subscribed to LDS and got `snapshot`'s listener: its response. */
function listenerStream(cache: SnapshotCache, nodeId: string): { stream: SotwStream; lds: () => DiscoveryResponse | undefined } {
  const sent: DiscoveryResponse[] = [];
  const stream = new SotwStream(cache, (r) => sent.push(r), supported);
  stream.onRequest({ node: { id: nodeId }, type_url: XdsType.Listener });
  return { stream, lds: () => sent.filter((r) => r.type_url === XdsType.Listener).at(-1) };
}

describe("text a sidecar sends", () => {
  it("becomes one bounded line of plain text: no controls, no markup, no bidi overrides", () => {
    expect(plainSidecarText("<script>alert(1)</script>\u0000\u001b[31mred\u202e\ntail & more")).toBe("‹script›alert(1)‹/script› [31mred tail ＆ more");
    const long = plainSidecarText("x".repeat(100_000));
    expect([...long]).toHaveLength(MAX_SIDECAR_ERROR_LENGTH);
    expect(long.endsWith("…")).toBe(true);
    expect(plainSidecarText("é".repeat(600), 10)).toBe(`${"é".repeat(9)}…`);
  });

  it("node ids must be <pod>.<namespace> and no longer than a pod name and a namespace", () => {
    expect(nodeIdProblem("storefront-7d9c.shop")).toBeUndefined();
    expect(nodeIdProblem(`${"a".repeat(253)}.${"b".repeat(63)}`)).toBeUndefined();
    expect(nodeIdProblem(`${"a".repeat(254)}.${"b".repeat(63)}`)).toContain("at most 317");
    expect(nodeIdProblem("Pod.Shop")).toContain("<pod>.<namespace>");
    expect(nodeIdProblem("nodot")).toContain("<pod>.<namespace>");
    expect(nodeIdProblem("a.b<script>")).toContain("<pod>.<namespace>");
  });

  it("a stream whose node id is too long or not a pod's is closed before it is counted", () => {
    const cache = new SnapshotCache();
    const stream = new SotwStream(cache, () => undefined, supported);
    expect(() => stream.onRequest({ node: { id: `${"a".repeat(5000)}.shop` }, type_url: XdsType.Listener })).toThrow(/at most 317/);
    expect(cache.connectedSidecars()).toBe(0);
    expect(cache.nodeIds()).toEqual([]);
  });
});

describe("rejections never outlive an acknowledgement", () => {
  const nodeId = "storefront-1.shop";

  it("a NACK of a version the sidecar acknowledged (another stream under its node id) is not recorded", () => {
    const cache = new SnapshotCache();
    cache.setSnapshot(nodeId, makeSnapshot(resources("l1", "r1")));
    const real = listenerStream(cache, nodeId);
    const other = listenerStream(cache, nodeId);
    const version = real.lds()?.version_info;
    real.stream.onRequest({ type_url: XdsType.Listener, version_info: version, response_nonce: real.lds()?.nonce });
    other.stream.onRequest({ type_url: XdsType.Listener, version_info: "", response_nonce: other.lds()?.nonce, error_detail: { message: "<b>forged</b>" } });
    expect(cache.statusInfo(nodeId).types.LDS?.nack).toBeUndefined();
    expect(cache.currentRejection(nodeId)).toBeUndefined();
  });

  it("a NACK of a version the snapshot no longer holds is not the current rejection (a later routes-only edit is not 'rejected')", () => {
    const cache = new SnapshotCache();
    cache.setSnapshot(nodeId, makeSnapshot(resources("l1", "r1")));
    const s = listenerStream(cache, nodeId);
    s.stream.onRequest({ type_url: XdsType.Listener, version_info: "", response_nonce: s.lds()?.nonce, error_detail: { message: "bad listener" } });
    expect(cache.currentRejection(nodeId)).toMatchObject({ typeUrl: XdsType.Listener, error: "bad listener" });
    // The listener changes (the bad one is replaced): the old NACK is history, not the state of the new version.
    cache.setSnapshot(nodeId, makeSnapshot(resources("l2", "r2")));
    expect(cache.currentRejection(nodeId)).toBeUndefined();
  });

  it("the text recorded and announced is bounded plain text", () => {
    const cache = new SnapshotCache();
    const announced: string[] = [];
    cache.onNack((e) => announced.push(e.error));
    cache.setSnapshot(nodeId, makeSnapshot(resources("l1", "r1")));
    const s = listenerStream(cache, nodeId);
    s.stream.onRequest({
      type_url: XdsType.Listener,
      version_info: "",
      response_nonce: s.lds()?.nonce,
      error_detail: { message: `<img src=x onerror=alert(1)>\u0007${"y".repeat(10_000)}` },
    });
    const recorded = cache.currentRejection(nodeId)?.error ?? "";
    expect(announced).toEqual([recorded]);
    expect(recorded.startsWith("‹img src=x onerror=alert(1)› y")).toBe(true);
    expect([...recorded]).toHaveLength(MAX_SIDECAR_ERROR_LENGTH);
  });
});
