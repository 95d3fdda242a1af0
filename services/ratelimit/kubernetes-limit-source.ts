import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { TranslationSource } from "../../operator/translate/source.js";
import { emptyLimitIndex, indexLimits, type LimitIndex } from "./limits.js";

/**
 * Keeps the limits of the latest translation (the shared translation source; changes are
 * coalesced, a failed translation keeps the previous limits).
 */
export class KubernetesLimitSource {
  private index: LimitIndex = emptyLimitIndex;
  private readonly source: TranslationSource;

  constructor(kc: KubeConfig, log: Logger, debounceMs = 100) {
    this.source = new TranslationSource({
      kc,
      log,
      debounceMs,
      // Limits do not depend on Secrets (JWKS, CA): none are watched, so its account needs no access to them.
      kinds: ["policies", "services", "pods"],
      requireSync: false,
      what: "the previous limits",
      apply: (translation) => {
        const index = indexLimits(translation.ir);
        if (index.byName.size !== this.index.byName.size) log.info({ limits: index.byName.size }, "rate limits updated");
        this.index = index;
      },
    });
  }

  current(): LimitIndex {
    return this.index;
  }

  isSynced(): boolean {
    return this.source.isSynced();
  }

  start(): Promise<void> {
    return this.source.start();
  }

  stop(): Promise<void> {
    return this.source.stop();
  }
}
