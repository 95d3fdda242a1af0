import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { TranslationSource } from "../../operator/translate/source.js";
import type { RouteTableHolder } from "./config.js";
import { swapTable } from "./source.js";

/**
 * Keeps the route table current from the objects translation reads (the shared translation
 * source). Independent of the controller: when it is gone, authz keeps its last table; when the
 * API server is gone, the watches retry and the table stays.
 */
export class KubernetesRouteSource {
  private readonly source: TranslationSource;

  constructor(kc: KubeConfig, tables: RouteTableHolder, log: Logger, debounceMs = 100) {
    this.source = new TranslationSource({
      kc,
      log,
      debounceMs,
      requireSync: true,
      oidcDiscovery: true,
      what: "the last configuration",
      apply: (translation) => swapTable(translation, tables, log),
    });
  }

  start(): Promise<void> {
    return this.source.start();
  }

  stop(): Promise<void> {
    return this.source.stop();
  }
}
