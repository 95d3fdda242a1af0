import type { Logger } from "pino";
import { errorMessage } from "../../common/errors.js";
import type { TranslationInput } from "../resolve/objects.js";
import { translate, type Translation } from "./translate.js";

/** What applyTranslation needs: where a translation goes, and how a failure is logged. */
export interface TranslationSink {
  log: Logger;
  /** What to do with each new translation; a throw keeps what the process had (logged with `what`). */
  apply(translation: Translation): void;
  /** What the process keeps, for the log line of a failed translation ("the last configuration"). */
  what: string;
}

/** Translates `input` and hands it to `apply`; a failure is logged and changes nothing. */
export function applyTranslation(input: TranslationInput, options: TranslationSink): void {
  try {
    options.apply(translate(input));
  } catch (error) {
    options.log.error({ err: errorMessage(error) }, `translation failed; keeping ${options.what}`);
  }
}
