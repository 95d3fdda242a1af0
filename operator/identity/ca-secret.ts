import { CoreV1Api, type KubeConfig, type V1Secret } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { WorkloadCa } from "./ca.js";
import { errorMessage } from "../../common/errors.js";

export interface CaSecretOptions {
  namespace: string;
  name: string;
  /** Create a new root in the Secret when it does not exist (false: the user or cert-manager supplies it). */
  create: boolean;
  trustDomain: string;
  now: Date;
}

function statusCode(error: unknown): number | undefined {
  const e = error as { code?: unknown; statusCode?: unknown; response?: { statusCode?: unknown } };
  const code = e.code ?? e.statusCode ?? e.response?.statusCode;
  return typeof code === "number" ? code : undefined;
}

function field(secret: V1Secret, key: string): string | undefined {
  const value = secret.data?.[key];
  return value === undefined ? undefined : Buffer.from(value, "base64").toString("utf8");
}

/** The CA of a `kubernetes.io/tls` Secret: tls.crt, tls.key, and ca.crt as the trust bundle when present (cert-manager's layout). */
export async function caFromSecret(secret: V1Secret, trustDomain: string): Promise<WorkloadCa> {
  const where = `Secret ${secret.metadata?.namespace ?? "?"}/${secret.metadata?.name ?? "?"}`;
  const certificatePem = field(secret, "tls.crt");
  const privateKeyPem = field(secret, "tls.key");
  if (!certificatePem || !privateKeyPem) throw new Error(`${where} has no tls.crt and tls.key`);
  const trustBundlePem = field(secret, "ca.crt");
  try {
    return await WorkloadCa.load({ certificatePem, privateKeyPem, ...(trustBundlePem ? { trustBundlePem } : {}) }, trustDomain);
  } catch (error) {
    throw new Error(`${where}: ${errorMessage(error)}`);
  }
}

/**
 * Reads the workload CA from its Secret; when it is missing and `create` is set, generates a
 * root and creates the Secret (a replica that loses the race reads the winner's).
 */
export async function loadOrCreateCa(kc: KubeConfig, options: CaSecretOptions, log: Logger): Promise<WorkloadCa> {
  const core = kc.makeApiClient(CoreV1Api);
  const read = (): Promise<V1Secret> => core.readNamespacedSecret({ namespace: options.namespace, name: options.name });
  try {
    return await caFromSecret(await read(), options.trustDomain);
  } catch (error) {
    if (statusCode(error) !== 404) throw error;
    if (!options.create) throw new Error(`the workload CA Secret ${options.namespace}/${options.name} does not exist (it is to be supplied: --ca-secret-create=false)`);
  }
  const ca = await WorkloadCa.generate(options.trustDomain, options.now);
  try {
    await core.createNamespacedSecret({
      namespace: options.namespace,
      body: {
        metadata: { name: options.name, namespace: options.namespace, labels: { "app.kubernetes.io/managed-by": "bulwark", "app.kubernetes.io/component": "workload-ca" } },
        type: "kubernetes.io/tls",
        data: { "tls.crt": Buffer.from(ca.certificatePem).toString("base64"), "tls.key": Buffer.from(ca.privateKeyPem).toString("base64") },
      },
    });
    log.info({ secret: `${options.namespace}/${options.name}`, trustDomain: options.trustDomain }, "created the workload CA");
    return ca;
  } catch (error) {
    if (statusCode(error) !== 409) throw error;
    return caFromSecret(await read(), options.trustDomain);
  }
}
