import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { ObjectStore } from "../../operator/kube/object-store.js";
import type { TranslationInput } from "../../operator/resolve/objects.js";
import { translate } from "../../operator/translate/translate.js";
import { emptyLimitIndex, indexLimits, type LimitIndex } from "./limits.js";
import { errorMessage } from "../../common/errors.js";

/** The limits of one set of objects: the same translation the controller runs for the sidecars. */
export function limitsOf(input: TranslationInput): LimitIndex {
  return indexLimits(translate(input).ir);
}

/**
 * Watches the objects translation needs and keeps the limits of the latest translation.
 * Changes are coalesced (one translation per burst of events).
 */
export class KubernetesLimitSource {
  private index: LimitIndex = emptyLimitIndex;
  private readonly store: ObjectStore;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    kc: KubeConfig,
    private readonly log: Logger,
    private readonly debounceMs = 100,
  ) {
    // Limits do not depend on Secrets (JWKS, CA): none are watched, so its account needs no access to them.
    this.store = new ObjectStore(kc, () => this.schedule(), log, { kinds: ["policies", "services", "pods", "namespaces"] });
  }

  current(): LimitIndex {
    return this.index;
  }

  isSynced(): boolean {
    return this.store.isSynced();
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.refresh();
    }, this.debounceMs);
  }

  private refresh(): void {
    try {
      const index = limitsOf(this.store.snapshot(new Date().toISOString()));
      if (index.byName.size !== this.index.byName.size) this.log.info({ limits: index.byName.size }, "rate limits updated");
      this.index = index;
    } catch (error) {
      // A system error keeps the previous limits in place.
      this.log.error({ err: errorMessage(error) }, "translation failed; keeping the previous limits");
    }
  }

  async start(): Promise<void> {
    await this.store.start();
    this.refresh();
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.store.stop();
  }
}
