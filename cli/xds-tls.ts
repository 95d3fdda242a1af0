/** The controller's xDS serving certificate: files (cert-manager, your own) or a Secret the controller keeps itself. */
import type { KubeConfig } from "@kubernetes/client-node";
import { readFile } from "node:fs/promises";
import type { Logger } from "pino";
import { ensureServingSecret } from "../operator/kube/serving-secret.js";
import { UsageError } from "./usage.js";
import { errorMessage } from "../common/errors.js";

export type XdsTlsSource = { kind: "files"; certFile: string; keyFile: string } | { kind: "secret"; name: string; dnsNames: string[] };

export function parseXdsTlsFlags(flags: { certFile: string; keyFile: string; secret: string; dnsNames: string }): XdsTlsSource {
  if (flags.secret) {
    if (flags.certFile || flags.keyFile) throw new UsageError("--xds-tls-secret and --xds-tls-cert/--xds-tls-key exclude each other");
    const dnsNames = flags.dnsNames
      .split(",")
      .map((n) => n.trim())
      .filter((n) => n !== "");
    if (dnsNames.length === 0) throw new UsageError("--xds-tls-dns-names is required with --xds-tls-secret (the names sidecars reach the controller by)");
    return { kind: "secret", name: flags.secret, dnsNames };
  }
  if (!flags.certFile || !flags.keyFile)
    throw new UsageError("--xds-tls-cert and --xds-tls-key (or --xds-tls-secret) are required: sidecars get their configuration and workload keys over TLS only");
  return { kind: "files", certFile: flags.certFile, keyFile: flags.keyFile };
}

async function readPem(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    throw new UsageError(`${what} ${file} cannot be read: ${errorMessage(error)}`);
  }
}

/** The certificate and key to serve xDS with. */
export async function loadXdsTls(source: XdsTlsSource, context: { kc: KubeConfig; namespace: string; log: Logger }): Promise<{ certPem: string; keyPem: string }> {
  if (source.kind === "files") return { certPem: await readPem(source.certFile, "--xds-tls-cert"), keyPem: await readPem(source.keyFile, "--xds-tls-key") };
  const { material } = await ensureServingSecret(
    context.kc,
    {
      namespace: context.namespace,
      name: source.name,
      dnsNames: source.dnsNames,
      caCommonName: `${source.dnsNames[0] ?? "bulwark-controller"} xDS CA`,
      labels: { "app.kubernetes.io/managed-by": "bulwark", "app.kubernetes.io/component": "controller" },
      now: () => new Date(),
    },
    context.log,
  );
  return { certPem: material.certPem, keyPem: material.keyPem };
}
