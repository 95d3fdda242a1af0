import type { Logger } from "pino";
import { loadClusterConfig } from "./cluster-config.js";
import { errorMessage } from "../common/errors.js";
import type { RouteTableHolder } from "../services/authz/config.js";
import { KubernetesRouteSource } from "../services/authz/kubernetes-route-source.js";

/**
 * The Kubernetes source, started again (a new one) until its first listing succeeds: an API
 * server that is down or a CRD not yet installed leaves authz up and not ready, and says why.
 */
class RetryingRouteSource {
  private current: KubernetesRouteSource | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly create: () => KubernetesRouteSource,
    private readonly log: Logger,
    private readonly retryMs = 1000,
  ) {}

  start(): void {
    if (this.stopped) return;
    const source = this.create();
    this.current = source;
    source.start().then(
      () => {
        if (this.stopped) void source.stop();
      },
      (error: unknown) => {
        this.log.warn({ err: errorMessage(error), retryInMs: this.retryMs }, "cannot list the objects the route table is built from; retrying");
        void source.stop().finally(() => {
          if (this.stopped) return;
          this.timer = setTimeout(() => this.start(), this.retryMs);
        });
      },
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.current?.stop();
  }
}

/** Keeps `tables` current from the cluster of `kubeconfig` (the flag's value, else KUBECONFIG, else in-cluster) until stopped. */
export function watchRouteTables(kubeconfig: unknown, tables: RouteTableHolder, log: Logger): { stop(): Promise<void> } {
  const kc = loadClusterConfig(kubeconfig);
  const source = new RetryingRouteSource(() => new KubernetesRouteSource(kc, tables, log), log);
  source.start();
  return source;
}
