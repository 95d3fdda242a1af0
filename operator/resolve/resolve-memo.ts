import type { PodObject, ServiceObject } from "./objects.js";
import { SidecarPodIndex } from "./pod-index.js";

/** Equal when every element is the same value (objects: the same object). */
function sameElements(a: readonly unknown[], b: readonly unknown[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

/**
 * What resolution computed for each policy and mesh Service in earlier translations, with what it
 * read to compute it, so the next translation recomputes only what reads something that changed.
 * Dependencies are compared by identity: the watch cache hands back the same object until it
 * changes (objects are treated as immutable, as the watch cache treats them), so an object that
 * was replaced, even by an equal one, counts as changed. A resolution with the memo is the same
 * as one without it (operator/controller/incremental.test.ts checks that after random edits).
 *
 * A policy's dependencies (resolve.ts, `policyDependencies`): its object, the Services its
 * targetRefs name, the pods its targets select and which older policy already governs each, the
 * Secrets it names, its discovery results, and the Services of its namespace (SidecarBypass).
 * A conflict is therefore recomputed whenever an older policy takes or releases one of its pods.
 */
export class ResolveMemo {
  private policies = new Map<string, { dependencies: unknown[]; result: object }>();
  private nextPolicies = new Map<string, { dependencies: unknown[]; result: object }>();
  private namespaceServices = new Map<string, ServiceObject[]>();
  private candidates = new Map<string, { raw: unknown; signature: string; candidate: unknown }>();
  private nextCandidates = new Map<string, { raw: unknown; signature: string; candidate: unknown }>();
  private pods: { pods: readonly PodObject[]; index: SidecarPodIndex } | undefined;
  private meshServices = new WeakMap<ServiceObject, { pods: readonly PodObject[]; result: unknown }>();
  /** Policies reused and recomputed by the last translation (for tests and metrics). */
  readonly last = { reused: 0, computed: 0 };

  /** Starts a translation: what it does not ask for again is forgotten when it ends. */
  begin(): void {
    this.nextPolicies = new Map();
    this.nextCandidates = new Map();
    this.last.reused = 0;
    this.last.computed = 0;
  }

  /** Ends a translation. */
  end(): void {
    this.policies = this.nextPolicies;
    this.candidates = this.nextCandidates;
  }

  /**
   * The Services of each namespace, in input order: the previous translation's array when its
   * Services are the same objects, so a policy that depends on them sees one dependency unchanged.
   */
  servicesByNamespace(fresh: ReadonlyMap<string, ServiceObject[]>): Map<string, ServiceObject[]> {
    const out = new Map<string, ServiceObject[]>();
    for (const [namespace, services] of fresh) {
      const previous = this.namespaceServices.get(namespace);
      out.set(namespace, previous && sameElements(previous, services) ? previous : services);
    }
    this.namespaceServices = out;
    return out;
  }

  /**
   * The index of `pods`: the previous translation's when the pods are the same objects, so the
   * selections it made (every policy's and mesh Service's) are not made again.
   */
  podIndex(pods: readonly PodObject[]): SidecarPodIndex {
    if (this.pods && sameElements(this.pods.pods, pods)) return this.pods.index;
    this.pods = { pods: [...pods], index: new SidecarPodIndex(pods) };
    return this.pods.index;
  }

  /**
   * A policy object read (validated) once per generation: the API server gives a policy a new
   * generation whenever its spec changes, so a policy object that differs only in its status
   * (the controller's own status write hands back a new object) keeps its earlier reading, and
   * with it every result that depends on that reading. Objects without a uid and a generation
   * (not from an API server) are read whenever they are new objects.
   */
  candidate<T>(raw: unknown, read: (raw: unknown) => T): T {
    const meta = (raw as { metadata?: { uid?: unknown; generation?: unknown; namespace?: unknown; name?: unknown } } | null)?.metadata;
    if (typeof meta?.uid !== "string" || typeof meta.generation !== "number") return read(raw);
    const m = meta as Record<string, unknown>;
    const key = `${String(m.namespace)}/${String(m.name)}`;
    const previous = this.candidates.get(key);
    // The same object: the same signature, without serialising it again.
    if (previous && previous.raw === raw) {
      this.nextCandidates.set(key, previous);
      return previous.candidate as T;
    }
    const signature = JSON.stringify([m.uid, m.generation, m.creationTimestamp, m.deletionTimestamp, m.labels, m.annotations]);
    const entry = previous?.signature === signature ? { ...previous, raw } : { raw, signature, candidate: read(raw) };
    this.nextCandidates.set(key, entry);
    return entry.candidate as T;
  }

  /** The policy's earlier resolution when it read exactly `dependencies`, else `compute()`'s, remembered. */
  policy<T extends object>(key: string, dependencies: unknown[], compute: () => T): T {
    const previous = this.policies.get(key);
    let entry = previous && sameElements(previous.dependencies, dependencies) ? previous : undefined;
    if (entry) this.last.reused += 1;
    else {
      entry = { dependencies, result: compute() };
      this.last.computed += 1;
    }
    this.nextPolicies.set(key, entry);
    // A copy: later stages replace `accepted` and `held` of a policy that fails (conditions.ts failTranslation).
    return { ...(entry.result as T) };
  }

  /** A mesh Service's earlier entry when its Service and pods are the same objects, else `compute()`'s. */
  meshService<T>(service: ServiceObject, pods: readonly PodObject[], compute: () => T): T {
    const previous = this.meshServices.get(service);
    if (previous && sameElements(previous.pods, pods)) return previous.result as T;
    const result = compute();
    this.meshServices.set(service, { pods, result });
    return result;
  }
}
