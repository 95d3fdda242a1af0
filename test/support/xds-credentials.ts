/**
 * What a sidecar needs to be served by a real controller: the CA of the controller's xDS serving
 * certificate, and a projected-style ServiceAccount token from the real API server (TokenRequest),
 * bound to the sidecar's Pod object and with Bulwark's audience — what the kubelet writes into an
 * injected pod's token volume.
 */
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SidecarBootstrapOptions } from "../../envoy/bootstrap/sidecar-bootstrap.js";
import { XDS_TOKEN_AUDIENCE } from "../../operator/kube/xds-authentication.js";
import { servingPki } from "./pki-webhook.js";

export interface XdsServingFiles {
  caPem: string;
  certFile: string;
  keyFile: string;
}

let shared: Promise<XdsServingFiles> | undefined;

/** One serving certificate for 127.0.0.1 per test process: every controller of the process serves it, every sidecar trusts its CA. */
export function xdsServingFiles(): Promise<XdsServingFiles> {
  shared ??= (async (): Promise<XdsServingFiles> => {
    const pki = await servingPki("bulwark-xds");
    const dir = await mkdtemp(join(tmpdir(), "bulwark-xds-tls-"));
    const certFile = join(dir, "tls.crt");
    const keyFile = join(dir, "tls.key");
    await writeFile(certFile, pki.certPem);
    await writeFile(keyFile, pki.keyPem, { mode: 0o600 });
    return { caPem: pki.caPem, certFile, keyFile };
  })();
  return shared;
}

/** The controller's flags for those files. */
export async function xdsServingArgs(): Promise<string[]> {
  const files = await xdsServingFiles();
  return ["--xds-tls-cert", files.certFile, "--xds-tls-key", files.keyFile];
}

export interface PodTokenOptions {
  namespace: string;
  pod: string;
  /** Default: the Pod's own ServiceAccount. */
  serviceAccount?: string;
  audience?: string;
  /** Default 3600 (the API server grants at least 600). */
  expirationSeconds?: number;
  /** Bind to the Pod (default true): an unbound token is what a stolen ServiceAccount token looks like. */
  bound?: boolean;
}

/** A token from the API server's TokenRequest, as the kubelet gets one for a pod's projected volume. */
export async function podToken(kc: KubeConfig, options: PodTokenOptions): Promise<string> {
  const core = kc.makeApiClient(CoreV1Api);
  const pod = await core.readNamespacedPod({ namespace: options.namespace, name: options.pod });
  const serviceAccount = options.serviceAccount ?? pod.spec?.serviceAccountName ?? "default";
  const bound = options.bound ?? true;
  const answer = await core.createNamespacedServiceAccountToken({
    namespace: options.namespace,
    name: serviceAccount,
    body: {
      spec: {
        audiences: [options.audience ?? XDS_TOKEN_AUDIENCE],
        expirationSeconds: options.expirationSeconds ?? 3600,
        ...(bound ? { boundObjectRef: { apiVersion: "v1", kind: "Pod", name: options.pod, uid: pod.metadata?.uid ?? "" } } : {}),
      },
    },
  });
  const token = answer.status?.token;
  if (!token) throw new Error(`TokenRequest for ${options.namespace}/${serviceAccount} returned no token`);
  return token;
}

/**
 * The `xds` part of a sidecar's bootstrap against a controller on 127.0.0.1: TLS with the test
 * CA and a token file (in `dir`) bound to the Pod object `<pod>` of `<namespace>`.
 */
export async function sidecarXds(
  kc: KubeConfig,
  options: { namespace: string; pod: string; xdsPort: number; delta?: boolean; dir: string },
): Promise<SidecarBootstrapOptions["xds"]> {
  const { caPem } = await xdsServingFiles();
  const tokenFile = join(options.dir, `xds-token-${options.pod}.${options.namespace}`);
  await writeFile(tokenFile, await podToken(kc, { namespace: options.namespace, pod: options.pod }), { mode: 0o600 });
  return { host: "127.0.0.1", port: options.xdsPort, ...(options.delta !== undefined ? { delta: options.delta } : {}), tls: { caPem }, tokenFile };
}
