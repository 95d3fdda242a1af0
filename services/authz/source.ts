import type { Logger } from "pino";
import type { TranslationInput } from "../../operator/resolve/objects.js";
import { applyTranslation as translateInto } from "../../operator/translate/apply-translation.js";
import type { Translation } from "../../operator/translate/translate.js";
import { buildRouteTable, type RouteTableHolder } from "./config.js";

/** Swaps in the route table of a translation (logged when it changed). */
export function swapTable(translation: Translation, tables: RouteTableHolder, log: Logger): void {
  const table = buildRouteTable(translation.ir);
  if (tables.swap(table)) log.info({ version: table.version, routes: table.routes.size }, "configuration swapped");
}

/** Translates objects and swaps in the new table; a failure keeps the last table. Returns the version in use. */
export function applyTranslation(input: TranslationInput, tables: RouteTableHolder, log: Logger): string | undefined {
  translateInto(input, { apply: (translation) => swapTable(translation, tables, log), log, what: "the last configuration" });
  return tables.current()?.version;
}
