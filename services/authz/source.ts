import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { ObjectStore } from "../../operator/kube/object-store.js";
import type { TranslationInput } from "../../operator/resolve/objects.js";
import { translate } from "../../operator/translate/translate.js";
import { buildRouteTable, type RouteTableHolder } from "./config.js";
import { errorMessage } from "../../common/errors.js";

/** Translates objects and swaps in the new table; a failure keeps the last table. Returns the version in use. */
export function applyTranslation(input: TranslationInput, tables: RouteTableHolder, log: Logger): string | undefined {
  try {
    const table = buildRouteTable(translate(input).ir);
    if (tables.swap(table)) log.info({ version: table.version, routes: table.routes.size }, "configuration swapped");
  } catch (error) {
    log.error({ err: errorMessage(error) }, "translation failed; keeping the last configuration");
  }
  return tables.current()?.version;
}

/**
 * Watches the objects translation reads (as the controller does) and keeps the route table
 * current. Independent of the controller: when it is gone, authz keeps its last table; when the
 * API server is gone, the watches retry and the table stays.
 */
export class KubernetesRouteSource {
  private readonly store: ObjectStore;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    kc: KubeConfig,
    private readonly tables: RouteTableHolder,
    private readonly log: Logger,
    private readonly debounceMs = 100,
  ) {
    this.store = new ObjectStore(kc, () => this.schedule(), log);
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.store.isSynced()) applyTranslation(this.store.snapshot(new Date().toISOString()), this.tables, this.log);
    }, this.debounceMs);
  }

  async start(): Promise<void> {
    await this.store.start();
    // Not before every kind is listed (an API server still unreachable): the watches retry and schedule() translates then.
    if (this.store.isSynced()) applyTranslation(this.store.snapshot(new Date().toISOString()), this.tables, this.log);
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    await this.store.stop();
  }
}
