import type { TranslationInput } from "../../operator/resolve/objects.js";
import { translate } from "../../operator/translate/translate.js";
import { indexLimits, type LimitIndex } from "./limits.js";

/** The limits of one set of objects: the same translation the controller runs for the sidecars. */
export function limitsOf(input: TranslationInput): LimitIndex {
  return indexLimits(translate(input).ir);
}
