import { InjectLabel } from "./inject.js";
import { MUTATE_PATH } from "./webhook.js";

export interface WebhookConfigurationOptions {
  name: string;
  /** `{ service: { namespace, name, port } }` in a cluster, `{ url }` for a webhook outside it. */
  clientConfig: { caBundle: string } & ({ url: string } | { service: { namespace: string; name: string; port: number } });
  /**
   * What the API server does when the injector cannot answer, for pods that opted in: Fail (no pod
   * without its sidecar) or Ignore. Pods that did not opt in never reach the webhook: the selectors exclude them.
   */
  failurePolicy: "Fail" | "Ignore";
  /** Namespaces never injected (the system's and Bulwark's own). */
  excludedNamespaces: string[];
}

/**
 * The MutatingWebhookConfiguration of the injector: one webhook for labelled namespaces, one for
 * labelled pods in other namespaces (so no pod is sent twice). The Helm chart renders the same.
 */
export function webhookConfiguration(options: WebhookConfigurationOptions): Record<string, unknown> {
  const clientConfig =
    "url" in options.clientConfig
      ? { url: `${options.clientConfig.url}${MUTATE_PATH}`, caBundle: options.clientConfig.caBundle }
      : { service: { ...options.clientConfig.service, path: MUTATE_PATH }, caBundle: options.clientConfig.caBundle };
  const common = {
    clientConfig,
    rules: [{ operations: ["CREATE"], apiGroups: [""], apiVersions: ["v1"], resources: ["pods"], scope: "Namespaced" }],
    failurePolicy: options.failurePolicy,
    sideEffects: "None",
    admissionReviewVersions: ["v1"],
    timeoutSeconds: 5,
    reinvocationPolicy: "Never",
    matchPolicy: "Equivalent",
  };
  const notExcluded = { key: "kubernetes.io/metadata.name", operator: "NotIn", values: options.excludedNamespaces };
  return {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "MutatingWebhookConfiguration",
    metadata: { name: options.name },
    webhooks: [
      {
        name: "namespace.inject.bulwark.dev",
        ...common,
        namespaceSelector: { matchExpressions: [{ key: InjectLabel.key, operator: "In", values: [InjectLabel.enabled] }, notExcluded] },
      },
      {
        name: "pod.inject.bulwark.dev",
        ...common,
        namespaceSelector: { matchExpressions: [{ key: InjectLabel.key, operator: "NotIn", values: [InjectLabel.enabled] }, notExcluded] },
        objectSelector: { matchLabels: { [InjectLabel.key]: InjectLabel.enabled } },
      },
    ],
  };
}
