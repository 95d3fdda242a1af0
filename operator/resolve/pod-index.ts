import { compareStrings } from "../../common/order.js";
import { namespaceOf, type PodObject } from "./objects.js";
import { labelsMatch, sidecarPorts, type SidecarPorts } from "./sidecars.js";

/**
 * The sidecar ports of each pod object: the watch cache hands back the same object until the pod
 * changes, so its annotations are read once. The result is the same with or without it.
 */
const portsByPod = new WeakMap<PodObject, SidecarPorts | null>();

/** `sidecarPorts`, remembered per pod object (objects are treated as immutable, as the watch cache treats them). */
export function podSidecarPorts(pod: PodObject): SidecarPorts | undefined {
  let ports = portsByPod.get(pod);
  if (ports === undefined) {
    ports = sidecarPorts(pod) ?? null;
    portsByPod.set(pod, ports);
  }
  return ports ?? undefined;
}

/**
 * Pods with a sidecar by namespace and by label, and selections already made: computed once per
 * translation. A selector is answered from the pods carrying its rarest label, so selecting the
 * pods of every policy costs what they select, not the number of pods times the number of policies.
 */
export class SidecarPodIndex {
  private readonly byLabel = new Map<string, PodObject[]>();
  private readonly selections = new Map<string, PodObject[]>();
  /** Selections by selector object and namespace: a policy's or Service's selector is the same object while it is unchanged. */
  private readonly bySelector = new WeakMap<object, Map<string, PodObject[]>>();

  constructor(pods: readonly PodObject[]) {
    for (const pod of pods) {
      if (podSidecarPorts(pod) === undefined) continue;
      const ns = namespaceOf(pod.metadata);
      for (const [k, v] of Object.entries(pod.metadata.labels ?? {})) {
        const key = labelKey(ns, k, v);
        const list = this.byLabel.get(key);
        if (list) list.push(pod);
        else this.byLabel.set(key, [pod]);
      }
    }
  }

  /** Pods of `namespace` whose labels include `selector` (none for an empty one), sorted by name: what `selectPods` gives. */
  select(namespace: string, selector: Record<string, string>): PodObject[] {
    let byNamespace = this.bySelector.get(selector);
    const known = byNamespace?.get(namespace);
    if (known) return known;
    const pods = this.selectByKey(namespace, selector);
    if (!byNamespace) {
      byNamespace = new Map();
      this.bySelector.set(selector, byNamespace);
    }
    byNamespace.set(namespace, pods);
    return pods;
  }

  private selectByKey(namespace: string, selector: Record<string, string>): PodObject[] {
    const entries = Object.entries(selector).sort(([a], [b]) => compareStrings(a, b));
    const key = `${namespace}\u0000${JSON.stringify(entries)}`;
    let pods = this.selections.get(key);
    if (!pods) {
      pods = entries.length === 0 ? [] : this.candidates(namespace, entries).filter((p) => labelsMatch(selector, p.metadata.labels));
      pods.sort((a, b) => compareStrings(a.metadata.name, b.metadata.name));
      this.selections.set(key, pods);
    }
    return pods;
  }

  private candidates(namespace: string, entries: readonly [string, string][]): PodObject[] {
    let best: PodObject[] | undefined;
    for (const [k, v] of entries) {
      const list = this.byLabel.get(labelKey(namespace, k, v)) ?? [];
      if (!best || list.length < best.length) best = list;
    }
    return best ?? [];
  }
}

function labelKey(namespace: string, key: string, value: string): string {
  return `${namespace}\u0000${key}\u0000${value}`;
}
