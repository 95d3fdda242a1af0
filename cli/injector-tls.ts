/** Where `bulwark injector` gets its serving certificate: files (cert-manager, your own) or a Secret it keeps itself. */
import { KubeConfig } from "@kubernetes/client-node";
import { readFileSync } from "node:fs";
import type { Server } from "node:https";
import type { Logger } from "pino";
import { ServingKeeper } from "../injector/serving.js";
import { parseDuration } from "../operator/identity/rotation.js";
import { UsageError } from "./usage.js";
import { errorMessage } from "../common/errors.js";

export const injectorTlsHelp = `  --tls-cert-file PATH       serving certificate (PEM) [BULWARK_INJECTOR_TLS_CERT]; re-read every 30 s
  --tls-key-file PATH        its key (PEM) [BULWARK_INJECTOR_TLS_KEY]
  --tls-secret NAME          instead of the files: a Secret the injector keeps itself [BULWARK_INJECTOR_TLS_SECRET]:
                             created with a new CA when missing, renewed when a third of its year is left, shared
                             by the replicas; the CA is written into --webhook-configuration's caBundle
  --tls-secret-namespace NS  its namespace [POD_NAMESPACE] (default bulwark-system)
  --tls-dns-names NAMES      comma-separated names the certificate carries (the webhook Service's) [BULWARK_INJECTOR_TLS_DNS_NAMES]
  --webhook-configuration N  the MutatingWebhookConfiguration whose caBundle is kept [BULWARK_WEBHOOK_CONFIGURATION]
  --tls-check-interval D     how often the Secret and caBundle are checked (e.g. 30s) [BULWARK_INJECTOR_TLS_CHECK_INTERVAL] (default 30s)
  --kubeconfig PATH          with --tls-secret: kubeconfig [KUBECONFIG]; in-cluster configuration when unset
`;

export const injectorTlsFlags = {
  "tls-cert-file": { type: "string" },
  "tls-key-file": { type: "string" },
  "tls-secret": { type: "string" },
  "tls-secret-namespace": { type: "string" },
  "tls-dns-names": { type: "string" },
  "webhook-configuration": { type: "string" },
  "tls-check-interval": { type: "string" },
  kubeconfig: { type: "string" },
} as const;

type Values = Record<string, string | boolean | undefined>;

function get(values: Values, name: string, env: string): string | undefined {
  const v = values[name];
  const value = typeof v === "string" ? v : process.env[env];
  return value === "" ? undefined : value;
}

export interface InjectorTls {
  /** The certificate to serve first. */
  tls: { cert: string; key: string };
  /** The certificate served now (PEM). */
  current(): string;
  /** Keeps the server's certificate current (and the caBundle, with a Secret); returns a stop function. */
  keep(server: Server): () => void;
}

function fromFiles(certFile: string, keyFile: string, log: Logger): InjectorTls {
  const read = (): { cert: string; key: string } => ({ cert: readFileSync(certFile, "utf8"), key: readFileSync(keyFile, "utf8") });
  let tls = read();
  return {
    tls,
    current: () => tls.cert,
    keep(server) {
      // A renewed serving certificate (cert-manager) is picked up without a restart.
      const timer = setInterval(() => {
        try {
          const next = read();
          if (next.cert === tls.cert && next.key === tls.key) return;
          server.setSecureContext({ ...next, minVersion: "TLSv1.2" });
          tls = next;
          log.info("reloaded the serving certificate");
        } catch (error) {
          log.warn({ err: errorMessage(error) }, "cannot reload the serving certificate; keeping the current one");
        }
      }, 30_000);
      timer.unref();
      return () => clearInterval(timer);
    },
  };
}

/** Parses the TLS flags and loads the first certificate (from the files, or by ensuring the Secret and the caBundle). */
export async function injectorTls(values: Values, log: Logger): Promise<InjectorTls> {
  const certFile = get(values, "tls-cert-file", "BULWARK_INJECTOR_TLS_CERT");
  const keyFile = get(values, "tls-key-file", "BULWARK_INJECTOR_TLS_KEY");
  const secret = get(values, "tls-secret", "BULWARK_INJECTOR_TLS_SECRET");
  if (secret && (certFile || keyFile)) throw new UsageError("--tls-secret and --tls-cert-file/--tls-key-file exclude each other");
  if (!secret) {
    if (!certFile || !keyFile) throw new UsageError("--tls-cert-file and --tls-key-file are required (or --tls-secret)");
    return fromFiles(certFile, keyFile, log);
  }
  const dnsNames = (get(values, "tls-dns-names", "BULWARK_INJECTOR_TLS_DNS_NAMES") ?? "")
    .split(",")
    .map((n) => n.trim())
    .filter((n) => n !== "");
  if (dnsNames.length === 0) throw new UsageError("--tls-dns-names is required with --tls-secret (the webhook Service's DNS names)");
  const webhookConfiguration = get(values, "webhook-configuration", "BULWARK_WEBHOOK_CONFIGURATION");
  if (!webhookConfiguration) throw new UsageError("--webhook-configuration is required with --tls-secret (its caBundle is written)");
  const intervalText = get(values, "tls-check-interval", "BULWARK_INJECTOR_TLS_CHECK_INTERVAL") ?? "30s";
  const intervalMs = parseDuration(intervalText);
  if (intervalMs === undefined || intervalMs < 1000) throw new UsageError(`--tls-check-interval ${intervalText} is not a duration of at least 1s (e.g. 30s)`);
  const kc = new KubeConfig();
  const kubeconfig = get(values, "kubeconfig", "KUBECONFIG");
  if (kubeconfig) kc.loadFromFile(kubeconfig);
  else kc.loadFromCluster();
  let server: Server | undefined;
  let served: string | undefined;
  const keeper = new ServingKeeper({
    kc,
    secret: {
      namespace: get(values, "tls-secret-namespace", "POD_NAMESPACE") ?? "bulwark-system",
      name: secret,
      dnsNames,
      caCommonName: `${dnsNames[0] ?? "bulwark-injector"} CA`,
      labels: { "app.kubernetes.io/managed-by": "bulwark", "app.kubernetes.io/component": "injector" },
    },
    webhookConfiguration,
    log,
    onChange: (material) => {
      server?.setSecureContext({ cert: material.certPem, key: material.keyPem, minVersion: "TLSv1.2" });
      served = material.certPem;
      log.info("serving the renewed certificate");
    },
  });
  const first = await keeper.sync();
  served = first.certPem;
  return {
    tls: { cert: first.certPem, key: first.keyPem },
    current: () => served ?? first.certPem,
    keep(s) {
      server = s;
      return keeper.keep(intervalMs);
    },
  };
}
