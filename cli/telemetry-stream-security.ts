import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { TELEMETRY_TOKEN_AUDIENCE } from "../contract/telemetry.js";
import type { TelemetryReceiverOptions } from "../services/telemetry/receiver.js";
import { loadServingTls, parseServingTlsFlags, type ServingTlsFlagNames } from "./serving-tls.js";
import { UsageError } from "./usage.js";

/**
 * How bulwark telemetry's receiver meets its streams. With --cluster: TLS (required) and every
 * stream authenticated with TokenReview (the telemetry audience) and bound to its pod. Without:
 * TLS when given files, and streams believed (a warning says so): nothing but logs and metrics
 * come of them then, since without the cluster there is no policy to act on.
 */

const TELEMETRY_TLS_FLAGS: ServingTlsFlagNames = {
  prefix: "--tls",
  why: "with --cluster sidecars present their tokens to this service, over TLS only",
  component: "telemetry",
  serves: "telemetry",
};

type Security = Pick<TelemetryReceiverOptions, "authentication" | "tls">;

/** The cluster's client and the TokenReview authenticator through it; the Kubernetes client is loaded only with --cluster (cli/module-graph.test.ts). */
async function clusterAuthentication(kubeconfig: unknown): Promise<{ kc: KubeConfig; authentication: NonNullable<Security["authentication"]> }> {
  const { loadClusterConfig } = await import("./cluster-config.js");
  const { TokenReviewAuthenticator, tokenReviewer } = await import("../operator/kube/xds-authentication.js");
  const kc = loadClusterConfig(kubeconfig);
  return { kc, authentication: { authenticator: new TokenReviewAuthenticator({ review: tokenReviewer(kc), audience: TELEMETRY_TOKEN_AUDIENCE }) } };
}

export async function streamSecurity(options: {
  tls: { certFile: string; keyFile: string; secret: string; dnsNames: string };
  /** --cluster, with its --kubeconfig; undefined without --cluster. */
  cluster: { kubeconfig: unknown } | undefined;
  log: Logger;
}): Promise<Security> {
  const source = parseServingTlsFlags(options.tls, TELEMETRY_TLS_FLAGS, options.cluster !== undefined);
  if (!options.cluster) {
    if (source?.kind === "secret") throw new UsageError("--tls-secret needs --cluster (the Secret is kept through the API server)");
    if (!source) return {};
    return {
      tls: await loadServingTls(source, TELEMETRY_TLS_FLAGS, {
        kc: () => {
          throw new Error("no cluster");
        },
        namespace: "",
        log: options.log,
      }),
    };
  }
  const { kc, authentication } = await clusterAuthentication(options.cluster.kubeconfig);
  const tls = await loadServingTls(source as NonNullable<typeof source>, TELEMETRY_TLS_FLAGS, {
    kc: () => kc,
    namespace: process.env.POD_NAMESPACE ?? "bulwark-system",
    log: options.log,
  });
  return { authentication, tls };
}
