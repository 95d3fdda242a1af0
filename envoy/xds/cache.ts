import { plainSidecarText } from "./sidecar-text.js";
import { inconsistencies, type Snapshot } from "../snapshot/snapshot.js";
import { shortTypeName, type XdsType } from "../type-urls.js";

export interface NackInfo {
  /** Version the sidecar rejected (it keeps running the one it acknowledged last). */
  version: string;
  error: string;
  at: Date;
}

export interface TypeAckState {
  /** Version last sent to the sidecar. */
  sentVersion?: string;
  /** Version the sidecar acknowledged last: what it runs. */
  ackedVersion?: string;
  /** The last rejection, cleared when its version (or a later one) is acknowledged. */
  nack?: NackInfo;
}

export interface SidecarStatus {
  nodeId: string;
  /** Open ADS streams of the sidecar. */
  streams: number;
  /** Per type (CDS, EDS, SDS, LDS, RDS). */
  types: Record<string, TypeAckState>;
  snapshotVersion?: string;
}

export interface AckEvent {
  nodeId: string;
  typeUrl: XdsType;
  version: string;
}

export interface NackEvent extends AckEvent {
  error: string;
}

type Listener<T> = (event: T) => void;

export type SetSnapshotResult = { ok: true; changed: boolean } | { ok: false; problems: string[] };

/**
 * Snapshots keyed by sidecar (Envoy node id), their ACK/NACK state, and change notification
 * for the streams that serve them. Only consistent snapshots are served.
 */
export class SnapshotCache {
  private readonly snapshots = new Map<string, Snapshot>();
  private readonly ackState = new Map<string, Map<XdsType, TypeAckState>>();
  private readonly streamCount = new Map<string, number>();
  /** isInSync by sidecar, forgotten when its snapshot or an acknowledged version changes (status asks for every sidecar often). */
  private readonly inSync = new Map<string, boolean>();
  private readonly watchers = new Map<string, Set<(snapshot: Snapshot) => void>>();
  private readonly ackListeners = new Set<Listener<AckEvent>>();
  private readonly nackListeners = new Set<Listener<NackEvent>>();
  private readonly connectionListeners = new Set<Listener<{ nodeId: string; connected: boolean }>>();

  /** Serves `snapshot` to the sidecar; refused (the previous one stays) when it is inconsistent. */
  setSnapshot(nodeId: string, snapshot: Snapshot): SetSnapshotResult {
    const problems = inconsistencies(snapshot);
    if (problems.length > 0) return { ok: false, problems };
    const previous = this.snapshots.get(nodeId);
    if (previous?.version === snapshot.version) return { ok: true, changed: false };
    this.snapshots.set(nodeId, snapshot);
    this.inSync.delete(nodeId);
    for (const watcher of this.watchers.get(nodeId) ?? []) watcher(snapshot);
    return { ok: true, changed: true };
  }

  getSnapshot(nodeId: string): Snapshot | undefined {
    return this.snapshots.get(nodeId);
  }

  clearSnapshot(nodeId: string): void {
    this.snapshots.delete(nodeId);
    this.ackState.delete(nodeId);
    this.inSync.delete(nodeId);
  }

  nodeIds(): string[] {
    return [...new Set([...this.snapshots.keys(), ...this.streamCount.keys()])].sort();
  }

  statusInfo(nodeId: string): SidecarStatus {
    const types: Record<string, TypeAckState> = {};
    for (const [type, state] of this.ackState.get(nodeId) ?? []) types[shortTypeName(type)] = { ...state };
    const snapshotVersion = this.snapshots.get(nodeId)?.version;
    return { nodeId, streams: this.streamCount.get(nodeId) ?? 0, types, ...(snapshotVersion ? { snapshotVersion } : {}) };
  }

  /** Open ADS streams of the sidecar (statusInfo's `streams`, without building the rest). */
  openStreams(nodeId: string): number {
    return this.streamCount.get(nodeId) ?? 0;
  }

  /** Whether anything was sent to, acknowledged or rejected by the sidecar (statusInfo's `types` not empty). */
  hasAckState(nodeId: string): boolean {
    return (this.ackState.get(nodeId)?.size ?? 0) > 0;
  }

  /** True when the sidecar acknowledged every type of its current snapshot. */
  isInSync(nodeId: string): boolean {
    let inSync = this.inSync.get(nodeId);
    if (inSync === undefined) {
      inSync = this.computeInSync(nodeId);
      // Only sidecars with a snapshot are remembered (clearSnapshot forgets them): no entry for every node id ever asked about.
      if (this.snapshots.has(nodeId)) this.inSync.set(nodeId, inSync);
    }
    return inSync;
  }

  private computeInSync(nodeId: string): boolean {
    const snapshot = this.snapshots.get(nodeId);
    const state = this.ackState.get(nodeId);
    if (!snapshot || !state) return false;
    for (const [type, version] of snapshot.typeVersions) {
      if ((snapshot.resources.get(type)?.size ?? 0) === 0) continue;
      if (state.get(type)?.ackedVersion !== version) return false;
    }
    return true;
  }

  /**
   * The sidecar's rejection of its current configuration: a NACK of the version of a type that
   * its snapshot holds now and that it has not acknowledged. A NACK of an older version (the
   * snapshot moved on) or of a version also acknowledged tells nothing about what runs now.
   */
  currentRejection(nodeId: string): (NackInfo & { typeUrl: XdsType }) | undefined {
    const snapshot = this.snapshots.get(nodeId);
    if (!snapshot) return undefined;
    for (const [typeUrl, state] of this.ackState.get(nodeId) ?? []) {
      const nack = state.nack;
      if (nack && nack.version === snapshot.typeVersions.get(typeUrl) && state.ackedVersion !== nack.version) return { ...nack, typeUrl };
    }
    return undefined;
  }

  /** O(1): the controller asks on every connection and disconnection, thousands at once in a reconnect storm. */
  connectedSidecars(): number {
    return this.streamCount.size; // streamClosed() deletes a count that reaches 0
  }

  onAck(listener: Listener<AckEvent>): () => void {
    this.ackListeners.add(listener);
    return () => this.ackListeners.delete(listener);
  }

  onNack(listener: Listener<NackEvent>): () => void {
    this.nackListeners.add(listener);
    return () => this.nackListeners.delete(listener);
  }

  onConnection(listener: Listener<{ nodeId: string; connected: boolean }>): () => void {
    this.connectionListeners.add(listener);
    return () => this.connectionListeners.delete(listener);
  }

  // The methods below are for the ADS streams.

  watch(nodeId: string, watcher: (snapshot: Snapshot) => void): () => void {
    const set = this.watchers.get(nodeId) ?? new Set();
    set.add(watcher);
    this.watchers.set(nodeId, set);
    return () => {
      set.delete(watcher);
      if (set.size === 0) this.watchers.delete(nodeId);
    };
  }

  streamOpened(nodeId: string): void {
    const count = (this.streamCount.get(nodeId) ?? 0) + 1;
    this.streamCount.set(nodeId, count);
    if (count === 1) for (const l of this.connectionListeners) l({ nodeId, connected: true });
  }

  streamClosed(nodeId: string): void {
    const count = Math.max(0, (this.streamCount.get(nodeId) ?? 0) - 1);
    if (count === 0) this.streamCount.delete(nodeId);
    else this.streamCount.set(nodeId, count);
    if (count === 0) for (const l of this.connectionListeners) l({ nodeId, connected: false });
  }

  private typeState(nodeId: string, typeUrl: XdsType): TypeAckState {
    const byType = this.ackState.get(nodeId) ?? new Map<XdsType, TypeAckState>();
    this.ackState.set(nodeId, byType);
    const state = byType.get(typeUrl) ?? {};
    byType.set(typeUrl, state);
    return state;
  }

  recordSent(nodeId: string, typeUrl: XdsType, version: string): void {
    this.typeState(nodeId, typeUrl).sentVersion = version;
  }

  recordAck(nodeId: string, typeUrl: XdsType, version: string): void {
    const state = this.typeState(nodeId, typeUrl);
    state.ackedVersion = version;
    this.inSync.delete(nodeId);
    if (state.nack && state.nack.version === version) delete state.nack;
    if (state.nack && state.sentVersion === version) delete state.nack;
    for (const l of this.ackListeners) l({ nodeId, typeUrl, version });
  }

  /**
   * A rejection, with the sidecar's text made bounded plain text. A NACK of the version the
   * sidecar acknowledged contradicts that acknowledgement (another stream under the same node
   * id, or a confused client) and is not recorded: a rejection never outlives an acknowledgement.
   */
  recordNack(nodeId: string, typeUrl: XdsType, version: string, error: string): boolean {
    const state = this.typeState(nodeId, typeUrl);
    if (state.ackedVersion === version) return false;
    const text = plainSidecarText(error) || "rejected without a message";
    state.nack = { version, error: text, at: new Date() };
    for (const l of this.nackListeners) l({ nodeId, typeUrl, version, error: text });
    return true;
  }
}
