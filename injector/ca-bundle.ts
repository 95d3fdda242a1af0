/**
 * The injector keeps its own webhook registration trusted: the caBundle of its
 * MutatingWebhookConfiguration is the CA of the serving certificate it holds, written at run time
 * (as Istio's and cert-manager's CA injectors do) so that nothing certificate-like is rendered by
 * the chart and `helm template` is deterministic.
 */
import { AdmissionregistrationV1Api, PatchStrategy, setHeaderOptions, type KubeConfig } from "@kubernetes/client-node";

export const FIELD_MANAGER = "bulwark-injector";

interface Webhook {
  name?: string;
  clientConfig?: { caBundle?: string };
}

/**
 * Sets every webhook's caBundle in the configuration `name` to `caPem`. Returns the names of the
 * webhooks it changed (none when they already carry it). A JSON Patch that tests each webhook's
 * name at its index: a concurrent reorder fails the patch instead of writing the wrong entry.
 */
export async function patchCaBundle(kc: KubeConfig, name: string, caPem: string): Promise<string[]> {
  const api = kc.makeApiClient(AdmissionregistrationV1Api);
  const config = await api.readMutatingWebhookConfiguration({ name });
  const caBundle = Buffer.from(caPem).toString("base64");
  const webhooks = (config.webhooks ?? []) as Webhook[];
  const ops: unknown[] = [];
  const changed: string[] = [];
  webhooks.forEach((webhook, index) => {
    if (webhook.clientConfig?.caBundle === caBundle) return;
    ops.push({ op: "test", path: `/webhooks/${index}/name`, value: webhook.name }, { op: "add", path: `/webhooks/${index}/clientConfig/caBundle`, value: caBundle });
    changed.push(webhook.name ?? String(index));
  });
  if (ops.length === 0) return [];
  await api.patchMutatingWebhookConfiguration({ name, body: ops, fieldManager: FIELD_MANAGER }, setHeaderOptions("Content-Type", PatchStrategy.JsonPatch));
  return changed;
}
