import type { KubeConfig } from "@kubernetes/client-node";
import { ObjectStore, type Kind } from "../kube/object-store.js";
import { DiscoveryBook } from "../oidc/discovery-book.js";
import { applyTranslation, type TranslationSink } from "./apply-translation.js";

export interface TranslationSourceOptions extends TranslationSink {
  kc: KubeConfig;
  /** Kinds to watch (default: every kind translation reads). */
  kinds?: readonly Kind[];
  /** Translate only once every kind is listed (a half-listed store would drop policies). */
  requireSync: boolean;
  /** Changes within this window are coalesced into one translation. */
  debounceMs?: number;
  /** Follow OpenID Connect Discovery for jwks.oidcDiscovery providers (bulwark authz verifies their tokens too). */
  oidcDiscovery?: boolean;
}

/**
 * The one loop that keeps a process's view of the IR current outside the controller (bulwark
 * authz, bulwark ratelimit): watches the objects translation reads, coalesces changes and runs
 * the same translation the controller runs. When the API server is gone the watches retry and the
 * last translation stays.
 */
export class TranslationSource {
  private readonly store: ObjectStore;
  private readonly discovery: DiscoveryBook | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: TranslationSourceOptions) {
    this.store = new ObjectStore(options.kc, () => this.schedule(), options.log, options.kinds ? { kinds: [...options.kinds] } : undefined);
    this.discovery = options.oidcDiscovery ? new DiscoveryBook({ onChange: () => this.schedule(), log: options.log }) : undefined;
  }

  isSynced(): boolean {
    return this.store.isSynced();
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.refresh();
    }, this.options.debounceMs ?? 100);
  }

  private refresh(): void {
    if (this.options.requireSync && !this.store.isSynced()) return;
    const input = this.store.translationInput(new Date().toISOString());
    applyTranslation(this.discovery ? this.discovery.complete(input) : input, this.options);
  }

  async start(): Promise<void> {
    await this.store.start();
    this.refresh();
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.discovery?.stop();
    await this.store.stop();
  }
}
