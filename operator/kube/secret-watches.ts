import { CoreV1Api, ListWatch, Watch, type KubeConfig, type KubernetesObject } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { errorMessage } from "../../common/errors.js";
import type { SecretObject } from "../resolve/objects.js";

/** One Secret read by name wherever policies are (the workload CA's). */
export interface NamedSecret {
  namespace: string;
  name: string;
}

interface Entry {
  informer: ListWatch<KubernetesObject>;
  /** Listed at least once: its objects are in the cache. */
  listed: boolean;
  /** Its first list ended, listed or not: a watch that cannot list (forbidden, say) must not stop every translation. */
  tried: boolean;
  /** Not failing now (a failed watch is restarted; its last list stays in the cache). */
  healthy: boolean;
  stopped: boolean;
  /** A list in progress, and whether it failed (ListWatch reports a failed list as an error event and resolves). */
  starting: boolean;
  failedStart: boolean;
  /** What each Secret was at the last event (resourceVersion), to skip events that change nothing. */
  seen: Map<string, string>;
}

/**
 * Secrets are read only where translation may need them: one list + watch per namespace that a
 * policy reads Secrets from, and one per named Secret (the workload CA's), never cluster-wide.
 * A Secret of any other namespace is neither listed nor kept in memory. The scope follows the
 * policies: a namespace gains a watch when a policy there names a Secret, and loses it (and its
 * Secrets) when none does any more.
 */
export class SecretWatches {
  private readonly entries = new Map<string, Entry>();
  private readonly core: CoreV1Api;
  private stopped = false;

  constructor(
    private readonly kc: KubeConfig,
    private readonly onChange: () => void,
    private readonly log: Logger,
    private readonly named: readonly NamedSecret[] = [],
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
  }

  /** Watches the Secrets of exactly `namespaces` (and the named Secrets); resolves once every new watch tried to list. */
  async scope(namespaces: ReadonlySet<string>): Promise<void> {
    if (this.stopped) return;
    const wanted = new Map<string, () => Entry>();
    for (const namespace of namespaces) wanted.set(namespace, () => this.namespaceWatch(namespace));
    for (const secret of this.named) {
      if (!namespaces.has(secret.namespace)) wanted.set(`${secret.namespace}/${secret.name}`, () => this.namedWatch(secret));
    }
    let removed = false;
    for (const [key, entry] of this.entries) {
      if (wanted.has(key)) continue;
      entry.stopped = true;
      this.entries.delete(key);
      removed = true;
      await entry.informer.stop();
      this.log.info({ secrets: key }, "no policy reads Secrets here any more: stopped watching them");
    }
    if (removed) this.onChange();
    const started: Promise<void>[] = [];
    for (const [key, make] of wanted) {
      if (this.entries.has(key)) continue;
      const entry = make();
      this.entries.set(key, entry);
      this.log.info({ secrets: key }, "watching Secrets here: a policy reads them");
      started.push(this.list(key, entry));
    }
    await Promise.all(started);
  }

  private namespaceWatch(namespace: string): Entry {
    return this.entry(`/api/v1/namespaces/${namespace}/secrets`, () => this.core.listNamespacedSecret({ namespace }));
  }

  private namedWatch(secret: NamedSecret): Entry {
    const fieldSelector = `metadata.name=${secret.name}`;
    return this.entry(`/api/v1/namespaces/${secret.namespace}/secrets`, () => this.core.listNamespacedSecret({ namespace: secret.namespace, fieldSelector }), fieldSelector);
  }

  private entry(path: string, list: () => ReturnType<CoreV1Api["listNamespacedSecret"]>, fieldSelector?: string): Entry {
    const informer = new ListWatch<KubernetesObject>(path, new Watch(this.kc), list, false, undefined, fieldSelector);
    const entry: Entry = { informer, listed: false, tried: false, healthy: false, stopped: false, starting: false, failedStart: false, seen: new Map() };
    const keyOf = (o: KubernetesObject): string => `${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}`;
    const changed = (o: KubernetesObject): void => {
      const key = keyOf(o);
      const version = o.metadata?.resourceVersion ?? "";
      if (entry.seen.get(key) === version) return;
      entry.seen.set(key, version);
      this.onChange();
    };
    informer.on("add", changed);
    informer.on("update", changed);
    informer.on("delete", (o) => {
      entry.seen.delete(keyOf(o));
      this.onChange();
    });
    informer.on("error", (error: unknown) => {
      entry.healthy = false;
      if (entry.starting) {
        entry.failedStart = true;
        return;
      }
      if (entry.stopped || this.stopped) return;
      this.log.warn({ secrets: path, err: errorMessage(error) }, "Secret watch failed; restarting it");
      this.retry(path, entry);
    });
    return entry;
  }

  /** Lists (and watches) once; on failure, again every second until it works or the watch is no longer wanted. */
  private async list(key: string, entry: Entry): Promise<void> {
    entry.starting = true;
    entry.failedStart = false;
    try {
      await entry.informer.start();
    } catch {
      entry.failedStart = true;
    } finally {
      entry.starting = false;
    }
    if (entry.stopped || this.stopped) return;
    if (entry.failedStart) {
      this.log.warn({ secrets: key }, "could not list Secrets (a policy there reads them as missing until this works); retrying");
      if (!entry.tried) {
        entry.tried = true;
        this.onChange();
      }
      this.retry(key, entry);
      return;
    }
    entry.listed = true;
    entry.tried = true;
    entry.healthy = true;
    this.onChange();
  }

  private retry(key: string, entry: Entry): void {
    setTimeout(() => {
      if (!entry.stopped && !this.stopped) void this.list(key, entry);
    }, 1000).unref();
  }

  /** True while a watch in scope is at its first list: a translation now would call its Secrets missing. */
  pending(): boolean {
    return [...this.entries.values()].some((e) => !e.tried);
  }

  /** True when every watch in scope has listed and none is failing. */
  healthy(): boolean {
    return [...this.entries.values()].every((e) => e.listed && e.healthy);
  }

  /** The namespaces (and `<ns>/<name>` of named Secrets) watched now, sorted. */
  scopes(): string[] {
    return [...this.entries.keys()].sort();
  }

  /** Every Secret in scope, each once. */
  items(): SecretObject[] {
    const out = new Map<string, SecretObject>();
    for (const entry of this.entries.values()) {
      for (const o of entry.informer.list()) out.set(`${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}`, o as unknown as SecretObject);
    }
    return [...out.values()];
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const entry of this.entries.values()) entry.stopped = true;
    await Promise.all([...this.entries.values()].map((e) => e.informer.stop()));
  }
}
