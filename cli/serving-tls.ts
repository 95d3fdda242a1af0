/**
 * A serving certificate for one of Bulwark's gRPC ports (the controller's xDS, bulwark telemetry's
 * access-log stream): files (cert-manager, your own) or a Secret the process keeps itself.
 */
import type { KubeConfig } from "@kubernetes/client-node";
import { readFile } from "node:fs/promises";
import type { Logger } from "pino";
import { UsageError } from "./usage.js";
import { errorMessage } from "../common/errors.js";

export type ServingTlsSource = { kind: "files"; certFile: string; keyFile: string } | { kind: "secret"; name: string; dnsNames: string[] };

/** Whose flags: their common prefix (`--xds-tls`: --xds-tls-cert, -key, -secret, -dns-names) and what the port carries. */
export interface ServingTlsFlagNames {
  prefix: string;
  /** The end of the error for missing flags: why TLS is required. */
  why: string;
  /** The component (the Secret's label, its CA's name): `controller`, `telemetry`. */
  component: string;
  /** What the port serves, in the CA's name: `xDS`, `telemetry`. */
  serves: string;
}

export const XDS_TLS_FLAGS: ServingTlsFlagNames = {
  prefix: "--xds-tls",
  why: "sidecars get their configuration and workload keys over TLS only",
  component: "controller",
  serves: "xDS",
};

/** Where the certificate comes from; undefined when no flag is set and `required` is false. */
export function parseServingTlsFlags(
  flags: { certFile: string; keyFile: string; secret: string; dnsNames: string },
  names: ServingTlsFlagNames,
  required = true,
): ServingTlsSource | undefined {
  const p = names.prefix;
  if (flags.secret) {
    if (flags.certFile || flags.keyFile) throw new UsageError(`${p}-secret and ${p}-cert/${p}-key exclude each other`);
    const dnsNames = flags.dnsNames
      .split(",")
      .map((n) => n.trim())
      .filter((n) => n !== "");
    if (dnsNames.length === 0) throw new UsageError(`${p}-dns-names is required with ${p}-secret (the names sidecars reach the ${names.component} by)`);
    return { kind: "secret", name: flags.secret, dnsNames };
  }
  if (!required && !flags.certFile && !flags.keyFile) return undefined;
  if (!flags.certFile || !flags.keyFile) throw new UsageError(`${p}-cert and ${p}-key (or ${p}-secret) are required: ${names.why}`);
  return { kind: "files", certFile: flags.certFile, keyFile: flags.keyFile };
}

export function parseXdsTlsFlags(flags: { certFile: string; keyFile: string; secret: string; dnsNames: string }): ServingTlsSource {
  return parseServingTlsFlags(flags, XDS_TLS_FLAGS) as ServingTlsSource;
}

async function readPem(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    throw new UsageError(`${what} ${file} cannot be read: ${errorMessage(error)}`);
  }
}

/** The certificate and key to serve with. The Kubernetes client is loaded only for a Secret (bulwark telemetry reads files without it). */
export async function loadServingTls(
  source: ServingTlsSource,
  names: ServingTlsFlagNames,
  context: { kc: () => KubeConfig; namespace: string; log: Logger },
): Promise<{ certPem: string; keyPem: string }> {
  if (source.kind === "files") return { certPem: await readPem(source.certFile, `${names.prefix}-cert`), keyPem: await readPem(source.keyFile, `${names.prefix}-key`) };
  const { ensureServingSecret } = await import("../operator/kube/serving-secret.js");
  const { material } = await ensureServingSecret(
    context.kc(),
    {
      namespace: context.namespace,
      name: source.name,
      dnsNames: source.dnsNames,
      caCommonName: `${source.dnsNames[0] ?? `bulwark-${names.component}`} ${names.serves} CA`,
      labels: { "app.kubernetes.io/managed-by": "bulwark", "app.kubernetes.io/component": names.component },
      now: () => new Date(),
    },
    context.log,
  );
  return { certPem: material.certPem, keyPem: material.keyPem };
}
