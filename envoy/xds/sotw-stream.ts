import type { DiscoveryRequest, DiscoveryResponse } from "./ads-protocol.js";
import type { SnapshotCache } from "./cache.js";
import { nodeIdProblem } from "./sidecar-text.js";
import type { Snapshot, XdsResource } from "../snapshot/snapshot.js";
import { isWildcardType, pushOrder, XdsType } from "../type-urls.js";

interface TypeState {
  wildcard: boolean;
  names: string[];
  /** `*` or the names joined: the subscription part of `lastSentKey`, computed once per request, not once per push. */
  namesKey: string;
  lastNonce?: string;
  /** `<version> <names>` of the last response, so the same thing is never sent twice in a row. */
  lastSentKey?: string;
  lastSentVersion?: string;
  /**
   * `<version> <names>` the sidecar rejected since the version last changed: not sent again
   * (no resend loop), while a new subscription at the same version is still answered and a
   * version that comes back after another one is sent (and rejected, and reported) again.
   */
  nackedKeys: Set<string>;
  /**
   * The version the sidecar said it runs when it opened the stream (its first request for the
   * type), kept until something is sent: a sidecar that reconnects before its snapshot exists
   * (a restarted server) is not re-sent what it already has once the snapshot arrives.
   */
  clientVersion?: string;
}

export class ProtocolError extends Error {}

/**
 * One state-of-the-world ADS stream: answers requests from the sidecar's snapshot, records
 * ACKs and NACKs, and pushes snapshot changes in dependency order.
 */
export class SotwStream {
  private nodeId: string | undefined;
  private readonly types = new Map<XdsType, TypeState>();
  private unwatch: (() => void) | undefined;
  private nonce = 0;

  constructor(
    private readonly cache: SnapshotCache,
    private readonly send: (response: DiscoveryResponse) => void,
    private readonly supported: ReadonlySet<string>,
  ) {}

  get node(): string | undefined {
    return this.nodeId;
  }

  onRequest(request: DiscoveryRequest): void {
    const nodeId = this.identify(request);
    const typeUrl = request.type_url ?? "";
    if (!this.supported.has(typeUrl)) return; // types Bulwark does not serve are left unanswered
    const type = typeUrl as XdsType;
    const names = [...(request.resource_names ?? [])].sort();
    let state = this.types.get(type);
    if (!state) {
      state = { wildcard: false, names: [], namesKey: "", nackedKeys: new Set() };
      this.types.set(type, state);
    }
    if (request.response_nonce) {
      if (request.response_nonce !== state.lastNonce) return; // stale: a newer response is on its way
      if (request.error_detail) {
        if (state.lastSentKey !== undefined) state.nackedKeys.add(state.lastSentKey);
        this.cache.recordNack(nodeId, type, state.lastSentVersion ?? "", request.error_detail.message ?? "rejected without a message");
      } else {
        this.cache.recordAck(nodeId, type, request.version_info ?? "");
      }
    }
    if (!request.response_nonce && state.lastSentKey === undefined && request.version_info) state.clientVersion = request.version_info;
    state.names = names.filter((n) => n !== "*");
    state.wildcard = isWildcardType(type) && (names.length === 0 || names.includes("*"));
    state.namesKey = state.wildcard ? "*" : state.names.join(",");
    const snapshot = this.cache.getSnapshot(nodeId);
    if (snapshot && this.respond(type, state, snapshot, state.clientVersion)) this.afterClusters(type, snapshot);
  }

  /**
   * A Cluster response replaces the EDS clusters it carries, and Envoy warms each replaced cluster
   * only once it gets its ClusterLoadAssignment again, even an unchanged one (else it waits for its
   * initial-fetch timeout, 15 s). So the endpoints follow every Cluster response.
   */
  private afterClusters(type: XdsType, snapshot: Snapshot): void {
    const endpoints = this.types.get(XdsType.Endpoints);
    if (type === XdsType.Cluster && endpoints) this.respond(XdsType.Endpoints, endpoints, snapshot, undefined, true);
  }

  private identify(request: DiscoveryRequest): string {
    if (this.nodeId) return this.nodeId;
    const id = request.node?.id;
    if (!id) throw new ProtocolError("the first request of a stream must carry node.id");
    const problem = nodeIdProblem(id);
    if (problem) throw new ProtocolError(problem);
    this.nodeId = id;
    this.cache.streamOpened(id);
    this.unwatch = this.cache.watch(id, (snapshot) => this.push(snapshot));
    return id;
  }

  private push(snapshot: Snapshot): void {
    for (const type of pushOrder) {
      const state = this.types.get(type);
      if (state && this.respond(type, state, snapshot, state.clientVersion)) this.afterClusters(type, snapshot);
    }
  }

  /** True when it sent a response. `again`: even what was sent last (not what was rejected). */
  private respond(type: XdsType, state: TypeState, snapshot: Snapshot, clientVersion: string | undefined, again = false): boolean {
    const nodeId = this.nodeId;
    if (!nodeId) return false;
    if (!state.wildcard && state.names.length === 0) return false;
    const version = snapshot.typeVersions.get(type) ?? "";
    const key = `${version} ${state.namesKey}`;
    if (key === state.lastSentKey && !again) return false;
    // A new stream of a sidecar that already runs this version (a restarted server): nothing to send.
    if (clientVersion !== undefined && clientVersion === version && state.lastSentKey === undefined) {
      state.lastSentKey = key;
      state.lastSentVersion = version;
      state.clientVersion = undefined;
      this.cache.recordAck(nodeId, type, version);
      return false;
    }
    if (state.nackedKeys.has(key)) return false;
    if (version !== state.lastSentVersion) state.nackedKeys.clear();
    this.nonce += 1;
    state.clientVersion = undefined;
    state.lastNonce = String(this.nonce);
    state.lastSentKey = key;
    state.lastSentVersion = version;
    this.cache.recordSent(nodeId, type, version);
    const byName = snapshot.resources.get(type) ?? new Map<string, XdsResource>();
    const selected = state.wildcard ? [...byName.values()] : state.names.flatMap((n) => byName.get(n) ?? []);
    this.send({ version_info: version, type_url: type, nonce: state.lastNonce, resources: selected.map((r) => ({ type_url: type, value: r.body })) });
    return true;
  }

  close(): void {
    this.unwatch?.();
    this.unwatch = undefined;
    if (this.nodeId) this.cache.streamClosed(this.nodeId);
    this.nodeId = undefined;
  }
}
