import { CoreV1Api, CustomObjectsApi, ListWatch, Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { group, plural, version } from "../api/v1alpha1/policy.js";
import type { PodObject, ServiceObject, TranslationInput } from "../resolve/objects.js";
import { secretNamespaces } from "../resolve/secret-references.js";
import { errorMessage } from "../../common/errors.js";
import { SecretWatches, type NamedSecret } from "./secret-watches.js";

export type Kind = "policies" | "services" | "pods" | "secrets";

const ALL_KINDS: readonly Kind[] = ["policies", "services", "pods", "secrets"];

interface Meta {
  name?: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  deletionTimestamp?: unknown;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/**
 * What translation reads of an object: an update that leaves it unchanged (a policy's status
 * written by the controller itself, a pod's conditions, a Service's load-balancer status) does
 * not need a reconcile. Secrets: any change.
 */
export function relevantContent(kind: Kind, object: KubernetesObject & { spec?: unknown; status?: unknown }): string {
  const meta = (object.metadata ?? {}) as Meta;
  const common = [meta.uid, meta.labels, meta.annotations, meta.deletionTimestamp !== undefined && meta.deletionTimestamp !== null];
  switch (kind) {
    case "policies":
      return JSON.stringify([...common, meta.generation]);
    case "pods": {
      // The IP (a mesh endpoint) and the service account (its identity) too.
      // Readiness too: only ready pods are mesh endpoints.
      const status = object.status as { phase?: string; podIP?: string; conditions?: { type?: string; status?: string }[] } | undefined;
      const ready = status?.conditions?.find((c) => c.type === "Ready")?.status;
      return JSON.stringify([...common, status?.phase, status?.podIP, ready, (object.spec as { serviceAccountName?: string } | undefined)?.serviceAccountName]);
    }
    case "services":
      return JSON.stringify([...common, object.spec]);
    default:
      return meta.resourceVersion ?? JSON.stringify(common);
  }
}

/** Starts an informer; true when it listed its objects, false when the list failed (ListWatch reports that as an error event and resolves). */
async function listOnce(informer: ListWatch<KubernetesObject>): Promise<boolean> {
  let failed = false;
  const onError = (): void => {
    failed = true;
  };
  informer.on("error", onError);
  try {
    await informer.start();
  } finally {
    informer.off("error", onError);
  }
  return !failed;
}

export interface ObjectStoreOptions {
  /** What is watched, for a reader that needs less (bulwark ratelimit reads no Secrets); a kind not watched is empty in the snapshot. */
  kinds?: readonly Kind[];
  /** Secrets read by name whether or not a policy names them (the workload CA's). */
  namedSecrets?: readonly NamedSecret[];
}

/**
 * Watches the objects translation reads, keeps them in memory (list + watch, restarted after
 * errors and expired resource versions), and calls `onChange` after every event. Secrets are
 * watched only in the namespaces of policies that name one (secret-watches.ts), never
 * cluster-wide.
 */
export class ObjectStore {
  private readonly watches = new Map<Kind, ListWatch<KubernetesObject>>();
  private readonly synced = new Set<Kind>();
  private readonly seen = new Map<Kind, Map<string, string>>();
  private listed = false;
  private stopped = false;
  private readonly kinds: readonly Kind[];
  private readonly secrets: SecretWatches | undefined;
  /** The namespaces whose Secrets are in scope, as last computed from the policies. */
  private secretScope: string | undefined;
  private scoping: Promise<void> = Promise.resolve();

  constructor(
    private readonly kc: KubeConfig,
    private readonly onChange: (kind: Kind) => void,
    private readonly log: Logger,
    options: ObjectStoreOptions = {},
  ) {
    this.kinds = options.kinds ?? ALL_KINDS;
    this.secrets = this.kinds.includes("secrets") ? new SecretWatches(kc, () => this.onChange("secrets"), log, options.namedSecrets) : undefined;
  }

  /** Follows the policies: Secrets are watched in the namespaces whose policies name one (one change at a time, in order). */
  private rescopeSecrets(): Promise<void> {
    this.scoping = this.scoping
      .then(() => this.applySecretScope())
      .catch((error: unknown) => this.log.warn({ err: errorMessage(error) }, "could not change which Secrets are watched"));
    return this.scoping;
  }

  private async applySecretScope(): Promise<void> {
    if (!this.secrets || this.stopped) return;
    const namespaces = secretNamespaces(this.items<unknown>("policies"));
    const key = [...namespaces].sort().join(",");
    if (key === this.secretScope) return;
    this.secretScope = key;
    await this.secrets.scope(namespaces);
  }

  async start(): Promise<void> {
    const core = this.kc.makeApiClient(CoreV1Api);
    const custom = this.kc.makeApiClient(CustomObjectsApi);
    const lists: Record<Exclude<Kind, "secrets">, { path: string; list: () => Promise<KubernetesListObject<KubernetesObject>> }> = {
      policies: {
        path: `/apis/${group}/${version}/${plural}`,
        list: async () => (await custom.listClusterCustomObject({ group, version, plural })) as KubernetesListObject<KubernetesObject>,
      },
      services: { path: "/api/v1/services", list: () => core.listServiceForAllNamespaces() },
      pods: { path: "/api/v1/pods", list: () => core.listPodForAllNamespaces() },
    };
    await Promise.all(
      this.kinds.map(async (kind) => {
        if (kind === "secrets") return;
        const { path, list } = lists[kind];
        const informer = new ListWatch<KubernetesObject>(path, new Watch(this.kc), list, false);
        const seen = new Map<string, string>();
        this.seen.set(kind, seen);
        const keyOf = (o: KubernetesObject): string => `${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}`;
        const changed = (o: KubernetesObject): void => {
          const content = relevantContent(kind, o);
          const key = keyOf(o);
          if (seen.get(key) === content) return;
          seen.set(key, content);
          if (kind === "policies") void this.rescopeSecrets();
          this.onChange(kind);
        };
        informer.on("add", changed);
        informer.on("update", changed);
        informer.on("delete", (o) => {
          seen.delete(keyOf(o));
          if (kind === "policies") void this.rescopeSecrets();
          this.onChange(kind);
        });
        informer.on("error", (error: unknown) => {
          this.synced.delete(kind);
          if (this.stopped) return;
          this.log.warn({ kind, err: errorMessage(error) }, "watch failed; restarting it");
          setTimeout(() => {
            if (this.stopped) return;
            listOnce(informer).then(
              (listed) => {
                if (!listed) return; // its error handler runs again and retries
                this.synced.add(kind);
                if (kind === "policies") void this.rescopeSecrets();
                if (this.synced.size === this.kinds.length) this.listed = true;
                this.onChange(kind);
              },
              (e: unknown) => this.log.warn({ kind, err: String(e) }, "watch restart failed"),
            );
          }, 1000).unref();
        });
        this.watches.set(kind, informer);
        // Resolves once the list is in the cache and the watch is open ("connect" fires before the list),
        // or once listing failed (then the error handler retries).
        if (await listOnce(informer)) this.synced.add(kind);
      }),
    );
    if (this.secrets) {
      // The policies are listed (or failed to be): the Secrets they name next.
      if (this.synced.has("policies")) await this.rescopeSecrets();
      this.synced.add("secrets");
    }
    if (this.synced.size === this.kinds.length) this.listed = true;
  }

  /**
   * True once every kind was listed and the Secrets of every namespace in scope too: before that,
   * a translation would miss objects (a policy not yet listed = a sidecar left unprotected; a
   * Secret not yet listed = a policy refused for a missing Secret).
   */
  isListed(): boolean {
    return this.listed && !(this.secrets?.pending() ?? false);
  }

  /** True once every watch listed its objects and none is failing now. */
  isSynced(): boolean {
    return this.isListed() && this.synced.size === this.kinds.length && (this.secrets?.healthy() ?? true);
  }

  /** The namespaces (and named Secrets) whose Secrets are watched now. */
  secretScopes(): string[] {
    return this.secrets?.scopes() ?? [];
  }

  private items<T>(kind: Kind): T[] {
    return (this.watches.get(kind)?.list() ?? []) as unknown as T[];
  }

  /** The objects as translation reads them, at `now` (not an xDS snapshot: that is envoy/snapshot). */
  translationInput(now: string): TranslationInput {
    return {
      policies: this.items<unknown>("policies"),
      services: this.items<ServiceObject>("services"),
      pods: this.items<PodObject>("pods"),
      secrets: this.secrets?.items() ?? [],
      now,
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.watches.values()].map((w) => w.stop()));
    await this.secrets?.stop();
  }
}
