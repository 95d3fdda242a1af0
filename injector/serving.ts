/**
 * The injector's serving certificate at run time: kept in a Secret of its namespace (created,
 * renewed, shared by the replicas) and trusted by the API server through the caBundle it writes
 * into its MutatingWebhookConfiguration. Checked again on an interval: a renewal by another
 * replica is picked up, and a caBundle reset by a re-apply of the chart (Helm, Argo CD) is written back.
 */
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { ensureServingSecret, type ServingSecretOptions } from "../operator/kube/serving-secret.js";
import { servingNotAfter, type ServingMaterial } from "../operator/identity/serving-certificate.js";
import { patchCaBundle } from "./ca-bundle.js";
import { errorMessage } from "../common/errors.js";

export interface ServingKeeperOptions {
  kc: KubeConfig;
  secret: Omit<ServingSecretOptions, "now">;
  /** The MutatingWebhookConfiguration whose caBundle is kept. */
  webhookConfiguration: string;
  log: Logger;
  now?: () => Date;
  /** Called with new material (renewed here or by another replica). */
  onChange?: (material: ServingMaterial) => void;
  /** The serving certificate's expiry, for a metric. */
  onExpiry?: (notAfter: Date) => void;
}

export class ServingKeeper {
  private current: ServingMaterial | undefined;

  constructor(private readonly options: ServingKeeperOptions) {}

  get material(): ServingMaterial | undefined {
    return this.current;
  }

  /** Ensures the Secret (throws when it cannot) and then the caBundle (logged when it cannot: the next check retries). */
  async sync(): Promise<ServingMaterial> {
    const { kc, log } = this.options;
    const { material } = await ensureServingSecret(kc, { ...this.options.secret, now: this.options.now ?? (() => new Date()) }, log);
    const previous = this.current;
    this.current = material;
    this.options.onExpiry?.(servingNotAfter(material));
    if (previous && (previous.certPem !== material.certPem || previous.keyPem !== material.keyPem)) this.options.onChange?.(material);
    // The webhook configuration may not exist yet (an install creates it alongside): serve anyway, and write it on the next check.
    try {
      const changed = await patchCaBundle(kc, this.options.webhookConfiguration, material.caPem);
      if (changed.length > 0) log.info({ webhookConfiguration: this.options.webhookConfiguration, webhooks: changed }, "wrote the caBundle of the webhook configuration");
    } catch (error) {
      log.warn({ webhookConfiguration: this.options.webhookConfiguration, err: errorMessage(error) }, "cannot write the caBundle yet; trying again at the next check");
    }
    return material;
  }

  /** Runs `sync` every `intervalMs` (errors are logged: the current certificate keeps serving). Returns a stop function. */
  keep(intervalMs: number): () => void {
    let running = false;
    const timer = setInterval(() => {
      if (running) return;
      running = true;
      this.sync()
        .catch((error: unknown) => this.options.log.warn({ err: errorMessage(error) }, "cannot check the serving certificate or the caBundle; keeping the current ones"))
        .finally(() => (running = false));
    }, intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }
}
