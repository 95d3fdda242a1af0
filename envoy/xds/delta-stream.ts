import type { DeltaDiscoveryRequest, DeltaDiscoveryResponse } from "./ads-protocol.js";
import type { SnapshotCache } from "./cache.js";
import { nodeIdProblem } from "./sidecar-text.js";
import type { Snapshot, XdsResource } from "../snapshot/snapshot.js";
import { ProtocolError } from "./sotw-stream.js";
import { isWildcardType, pushOrder, XdsType } from "../type-urls.js";

interface TypeState {
  wildcard: boolean;
  subscribed: Set<string>;
  /** What the sidecar has (told by initial_resource_versions, or sent since). */
  known: Map<string, string>;
  /** System version sent with each nonce still awaiting an answer. */
  pending: Map<string, string>;
}

/**
 * One incremental (delta) ADS stream: sends only resources whose version the sidecar does not
 * have, and removals; a sidecar that reconnects with the versions it has gets nothing new.
 */
export class DeltaStream {
  private nodeId: string | undefined;
  private readonly types = new Map<XdsType, TypeState>();
  private unwatch: (() => void) | undefined;
  private nonce = 0;

  constructor(
    private readonly cache: SnapshotCache,
    private readonly send: (response: DeltaDiscoveryResponse) => void,
    private readonly supported: ReadonlySet<string>,
  ) {}

  get node(): string | undefined {
    return this.nodeId;
  }

  onRequest(request: DeltaDiscoveryRequest): void {
    const nodeId = this.identify(request);
    const typeUrl = request.type_url ?? "";
    if (!this.supported.has(typeUrl)) return;
    const type = typeUrl as XdsType;
    const subscribe = request.resource_names_subscribe ?? [];
    let state = this.types.get(type);
    const first = !state;
    if (!state) {
      state = {
        wildcard: isWildcardType(type) && (subscribe.length === 0 || subscribe.includes("*")),
        subscribed: new Set(),
        known: new Map(Object.entries(request.initial_resource_versions ?? {})),
        pending: new Map(),
      };
      this.types.set(type, state);
    }
    if (request.response_nonce) {
      const version = state.pending.get(request.response_nonce);
      state.pending.delete(request.response_nonce);
      if (version !== undefined) {
        if (request.error_detail) this.cache.recordNack(nodeId, type, version, request.error_detail.message ?? "rejected without a message");
        else this.cache.recordAck(nodeId, type, version);
      }
    }
    for (const name of subscribe) {
      if (name === "*") state.wildcard = true;
      else state.subscribed.add(name);
    }
    for (const name of request.resource_names_unsubscribe ?? []) {
      if (name === "*") state.wildcard = false;
      state.subscribed.delete(name);
      state.known.delete(name);
    }
    const snapshot = this.cache.getSnapshot(nodeId);
    if (!snapshot) return;
    const sent = this.respond(type, state, snapshot, first);
    const endpoints = this.types.get(XdsType.Endpoints);
    if (sent.length > 0 && endpoints) {
      this.afterClusters(sent);
      this.respond(XdsType.Endpoints, endpoints, snapshot);
    }
  }

  /**
   * Envoy warms a replaced EDS cluster only once it gets its ClusterLoadAssignment again, even an
   * unchanged one (else it waits for its initial-fetch timeout, 15 s): the endpoints of every
   * cluster sent are sent again.
   */
  private afterClusters(sent: readonly XdsResource[]): void {
    const endpoints = this.types.get(XdsType.Endpoints);
    if (!endpoints) return;
    for (const cluster of sent) for (const ref of cluster.references) if (ref.typeUrl === XdsType.Endpoints) endpoints.known.delete(ref.name);
  }

  private identify(request: DeltaDiscoveryRequest): string {
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
      if (state) this.afterClusters(this.respond(type, state, snapshot));
    }
  }

  /** The resources it sent when `type` is Cluster (none otherwise). */
  private respond(type: XdsType, state: TypeState, snapshot: Snapshot, firstRequest = false): XdsResource[] {
    const nodeId = this.nodeId;
    if (!nodeId) return [];
    const byName = snapshot.resources.get(type) ?? new Map<string, XdsResource>();
    const inScope = new Set<string>(state.subscribed);
    if (state.wildcard) for (const name of byName.keys()) inScope.add(name);
    const updated = [...inScope].sort().flatMap((name) => {
      const resource = byName.get(name);
      return resource && state.known.get(name) !== resource.version ? [resource] : [];
    });
    const removed = [...state.known.keys()].filter((name) => !byName.has(name) && (state.wildcard || state.subscribed.has(name))).sort();
    if (updated.length === 0 && removed.length === 0) {
      // A sidecar that reconnects (e.g. after a server restart) already has exactly this: it runs it.
      if (firstRequest) this.cache.recordAck(nodeId, type, snapshot.typeVersions.get(type) ?? "");
      return [];
    }
    const version = snapshot.typeVersions.get(type) ?? "";
    this.nonce += 1;
    const nonce = String(this.nonce);
    for (const r of updated) state.known.set(r.name, r.version);
    for (const name of removed) state.known.delete(name);
    state.pending.set(nonce, version);
    this.cache.recordSent(nodeId, type, version);
    this.send({
      system_version_info: version,
      type_url: type,
      nonce,
      removed_resources: removed,
      resources: updated.map((r) => ({ name: r.name, version: r.version, resource: { type_url: type, value: r.body } })),
    });
    return type === XdsType.Cluster ? updated : [];
  }

  close(): void {
    this.unwatch?.();
    this.unwatch = undefined;
    if (this.nodeId) this.cache.streamClosed(this.nodeId);
    this.nodeId = undefined;
  }
}
