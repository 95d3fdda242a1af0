import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { TranslationInput } from "../../operator/resolve/objects.js";
import { applyTranslation as translateInto, TranslationSource } from "../../operator/translate/source.js";
import type { Translation } from "../../operator/translate/translate.js";
import { buildRouteTable, type RouteTableHolder } from "./config.js";

/** Swaps in the route table of a translation (logged when it changed). */
function swapTable(translation: Translation, tables: RouteTableHolder, log: Logger): void {
  const table = buildRouteTable(translation.ir);
  if (tables.swap(table)) log.info({ version: table.version, routes: table.routes.size }, "configuration swapped");
}

/** Translates objects and swaps in the new table; a failure keeps the last table. Returns the version in use. */
export function applyTranslation(input: TranslationInput, tables: RouteTableHolder, log: Logger): string | undefined {
  translateInto(input, { apply: (translation) => swapTable(translation, tables, log), log, what: "the last configuration" });
  return tables.current()?.version;
}

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
