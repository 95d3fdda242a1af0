import {
  CoreV1Api,
  CustomObjectsApi,
  ListWatch,
  Watch,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
} from "@kubernetes/client-node";
import type { Logger } from "pino";
import { group, plural, version } from "../api/v1alpha1/policy.js";
import type { NamespaceObject, PodObject, SecretObject, ServiceObject, TranslationInput } from "../resolve/objects.js";

type Kind = "policies" | "services" | "pods" | "secrets" | "namespaces";

/**
 * Watches the objects translation reads, keeps them in memory (list + watch, restarted after
 * errors and expired resource versions), and calls `onChange` after every event.
 */
export class ObjectStore {
  private readonly watches = new Map<Kind, ListWatch<KubernetesObject>>();
  private readonly synced = new Set<Kind>();
  private stopped = false;

  constructor(
    private readonly kc: KubeConfig,
    private readonly onChange: (kind: Kind) => void,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    const core = this.kc.makeApiClient(CoreV1Api);
    const custom = this.kc.makeApiClient(CustomObjectsApi);
    const lists: Record<Kind, { path: string; list: () => Promise<KubernetesListObject<KubernetesObject>> }> = {
      policies: {
        path: `/apis/${group}/${version}/${plural}`,
        list: async () => (await custom.listClusterCustomObject({ group, version, plural })) as KubernetesListObject<KubernetesObject>,
      },
      services: { path: "/api/v1/services", list: () => core.listServiceForAllNamespaces() },
      pods: { path: "/api/v1/pods", list: () => core.listPodForAllNamespaces() },
      secrets: { path: "/api/v1/secrets", list: () => core.listSecretForAllNamespaces() },
      namespaces: { path: "/api/v1/namespaces", list: () => core.listNamespace() },
    };
    await Promise.all(
      (Object.keys(lists) as Kind[]).map(async (kind) => {
        const { path, list } = lists[kind];
        const informer = new ListWatch<KubernetesObject>(path, new Watch(this.kc), list, false);
        for (const verb of ["add", "update", "delete"] as const) informer.on(verb, () => this.onChange(kind));
        informer.on("connect", () => {
          this.synced.add(kind);
          this.onChange(kind);
        });
        informer.on("error", (error: unknown) => {
          this.synced.delete(kind);
          if (this.stopped) return;
          this.log.warn({ kind, err: error instanceof Error ? error.message : String(error) }, "watch failed; restarting it");
          setTimeout(() => {
            if (!this.stopped) informer.start().catch((e: unknown) => this.log.warn({ kind, err: String(e) }, "watch restart failed"));
          }, 1000).unref();
        });
        this.watches.set(kind, informer);
        await informer.start();
        this.synced.add(kind);
      }),
    );
  }

  /** True once every watch listed its objects. */
  isSynced(): boolean {
    return this.synced.size === 5;
  }

  private items<T>(kind: Kind): T[] {
    return (this.watches.get(kind)?.list() ?? []) as unknown as T[];
  }

  snapshot(now: string): TranslationInput {
    return {
      policies: this.items<unknown>("policies"),
      services: this.items<ServiceObject>("services"),
      pods: this.items<PodObject>("pods"),
      secrets: this.items<SecretObject>("secrets"),
      namespaces: this.items<NamespaceObject>("namespaces"),
      now,
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.watches.values()].map((w) => w.stop()));
  }
}
