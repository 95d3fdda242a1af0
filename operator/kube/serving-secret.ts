/**
 * A serving certificate kept in a Secret (kubernetes.io/tls: tls.crt, tls.key, ca.crt, and ca.key
 * so that any replica can renew it): created by the first replica that finds it missing, renewed by
 * the first that finds it due, read as it is by the others. Optimistic concurrency (create's 409,
 * replace's resourceVersion) decides races; the loser reads the winner's.
 */
import { CoreV1Api, type KubeConfig, type V1Secret } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { generateServingCa, generateServingMaterial, issueServingCertificate, servingMaterialProblem, type ServingMaterial } from "../identity/serving-certificate.js";

export interface ServingSecretOptions {
  namespace: string;
  name: string;
  /** Names the certificate must carry (the Service's DNS names). */
  dnsNames: readonly string[];
  /** Subject of a new CA, e.g. "bulwark-injector CA". */
  caCommonName: string;
  /** Labels of a Secret this creates. */
  labels: Record<string, string>;
  now: () => Date;
}

function statusCode(error: unknown): number | undefined {
  const e = error as { code?: unknown; statusCode?: unknown; response?: { statusCode?: unknown } };
  const code = e.code ?? e.statusCode ?? e.response?.statusCode;
  return typeof code === "number" ? code : undefined;
}

function text(secret: V1Secret, key: string): string | undefined {
  const value = secret.data?.[key];
  return value === undefined ? undefined : Buffer.from(value, "base64").toString("utf8");
}

/** The material a Secret holds, or undefined when a key is missing. */
export function materialOf(secret: V1Secret): ServingMaterial | undefined {
  const caPem = text(secret, "ca.crt");
  const certPem = text(secret, "tls.crt");
  const keyPem = text(secret, "tls.key");
  if (!caPem || !certPem || !keyPem) return undefined;
  const caKeyPem = text(secret, "ca.key");
  return { caPem, certPem, keyPem, ...(caKeyPem ? { caKeyPem } : {}) };
}

function data(material: ServingMaterial): Record<string, string> {
  const b64 = (s: string): string => Buffer.from(s).toString("base64");
  return { "ca.crt": b64(material.caPem), "tls.crt": b64(material.certPem), "tls.key": b64(material.keyPem), ...(material.caKeyPem ? { "ca.key": b64(material.caKeyPem) } : {}) };
}

/** New material for `options`: a leaf from the same CA when its key is known and the CA is good for the leaf, else a new CA. */
async function renewed(previous: ServingMaterial | undefined, options: ServingSecretOptions): Promise<ServingMaterial> {
  const now = options.now();
  if (previous?.caKeyPem) {
    const ca = { caPem: previous.caPem, caKeyPem: previous.caKeyPem };
    const next = { ...ca, ...(await issueServingCertificate(ca, options.dnsNames, now)) };
    if (servingMaterialProblem(next, options.dnsNames, now) === undefined) return next;
  }
  const ca = await generateServingCa(options.caCommonName, now);
  return { ...ca, ...(await issueServingCertificate(ca, options.dnsNames, now)) };
}

/**
 * The serving material in the Secret, created or renewed first when it is missing, unusable for
 * `dnsNames` or due. `changed` is true when this call wrote it.
 */
export async function ensureServingSecret(kc: KubeConfig, options: ServingSecretOptions, log: Logger): Promise<{ material: ServingMaterial; changed: boolean }> {
  const core = kc.makeApiClient(CoreV1Api);
  const where = `${options.namespace}/${options.name}`;
  for (let attempt = 0; attempt < 5; attempt++) {
    let secret: V1Secret | undefined;
    try {
      secret = await core.readNamespacedSecret({ namespace: options.namespace, name: options.name });
    } catch (error) {
      if (statusCode(error) !== 404) throw error;
    }
    if (!secret) {
      const material = await generateServingMaterial(options.caCommonName, options.dnsNames, options.now());
      try {
        await core.createNamespacedSecret({
          namespace: options.namespace,
          body: { metadata: { name: options.name, namespace: options.namespace, labels: options.labels }, type: "kubernetes.io/tls", data: data(material) },
        });
        log.info({ secret: where, dnsNames: options.dnsNames }, "created the serving certificate and its CA");
        return { material, changed: true };
      } catch (error) {
        if (statusCode(error) !== 409) throw error;
        continue;
      }
    }
    const current = materialOf(secret);
    const problem = current ? servingMaterialProblem(current, options.dnsNames, options.now()) : "tls.crt, tls.key or ca.crt is missing";
    if (current && problem === undefined) return { material: current, changed: false };
    const material = await renewed(current, options);
    try {
      await core.replaceNamespacedSecret({ namespace: options.namespace, name: options.name, body: { ...secret, data: data(material) } });
      log.info({ secret: where, reason: problem, newCa: material.caPem !== current?.caPem }, "renewed the serving certificate");
      return { material, changed: true };
    } catch (error) {
      if (statusCode(error) !== 409) throw error;
    }
  }
  throw new Error(`Secret ${where}: gave up after five conflicting writes`);
}
