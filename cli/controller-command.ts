import { hostname } from "node:os";
import { parseArgs } from "node:util";
import { componentLogger } from "./logger.js";
import { untilSignal } from "./until-signal.js";
import { XdsServer } from "../envoy/xds/server.js";
import { buildSidecarResources } from "../envoy/build/sidecar.js";
import { wireController } from "../operator/controller/wiring.js";
import { startHttpServer } from "../operator/kube/http-server.js";
import { LeaderElector } from "../operator/kube/leader-election.js";
import { ControllerMetrics } from "../operator/controller/metrics.js";
import { readBuildInfo } from "./build-info.js";
import { sharedEncodingSnapshot } from "../envoy/snapshot/shared-encoding.js";
import type { TranslationSettings } from "../contract/ir.js";
import { loadOrCreateCa } from "../operator/identity/ca-secret.js";
import { CaRotation } from "../operator/identity/ca-rotation.js";
import { certificateExpiryGauge } from "../operator/identity/certificate-expiry.js";
import { DEFAULT_ROTATION, parseDuration } from "../operator/identity/rotation.js";
import { isTrustDomain } from "../operator/identity/spiffe.js";
import { WorkloadCertificates } from "../operator/identity/workload-certificates.js";
import { clientAddressHelp, parseClientAddressFlags } from "./client-address-flags.js";
import { TokenReviewAuthenticator, tokenReviewer, XDS_TOKEN_AUDIENCE } from "../operator/kube/xds-authentication.js";
import { loadClusterConfig } from "./cluster-config.js";
import { parseAddress, UsageError } from "./usage.js";
import { loadServingTls, parseXdsTlsFlags, XDS_TLS_FLAGS } from "./serving-tls.js";
import { isStandalone, runStandaloneController } from "./controller-standalone.js";
import { telemetrySettings } from "./telemetry-settings.js";
import { TELEMETRY_TOKEN_AUDIENCE } from "../contract/telemetry.js";

export const controllerHelp = `usage: bulwark controller [flags]

Watches APISecurityPolicy, Service, Pod and Secret objects and serves each Envoy
sidecar its configuration over xDS (ADS, state of the world and delta). The leader (a Lease)
writes policy status; every replica serves xDS. With -f PATH, standalone mode instead: the objects
come from files, for a developer's machine (bulwark controller -f PATH --help).

flags (environment variable in brackets):
  --kubeconfig PATH          kubeconfig to use [KUBECONFIG]; in-cluster configuration when unset
  --xds-address HOST:PORT    where sidecars connect for xDS [BULWARK_XDS_ADDRESS] (default 0.0.0.0:18000)
  --xds-tls-cert FILE        the xDS serving certificate (PEM, with its chain) sidecars verify [BULWARK_XDS_TLS_CERT]
  --xds-tls-key FILE         its private key (PEM) [BULWARK_XDS_TLS_KEY]
                             Both required, or --xds-tls-secret: xDS is served over TLS only (read at start; restart to rotate)
  --xds-tls-secret NAME      instead of the files: a Secret (in the Lease's namespace) the controller keeps itself,
                             created with a new CA when missing and renewed at start when a third of its year is left;
                             the injector puts its ca.crt in sidecars' bootstraps [BULWARK_XDS_TLS_SECRET]
  --xds-tls-dns-names NAMES  comma-separated names the certificate carries (the controller Service's) [BULWARK_XDS_TLS_DNS_NAMES]
  --xds-token-audience AUD   the audience of the projected ServiceAccount tokens sidecars present; each stream
                             is checked with TokenReview and served only the pod its token is bound to
                             [BULWARK_XDS_TOKEN_AUDIENCE] (default ${XDS_TOKEN_AUDIENCE})
  --xds-max-connection-age D  close each sidecar connection after about D (±10 %; the stream gets 30 s to finish), so
                             sidecars reconnect to any replica and streams rebalance after a rolling restart;
                             0 never [BULWARK_XDS_MAX_CONNECTION_AGE] (default 30m)
  --http-address HOST:PORT   /healthz, /readyz and /metrics [BULWARK_HTTP_ADDRESS] (default 0.0.0.0:8080)
  --authz-address HOST:PORT  bulwark authz, for routes that need it [BULWARK_AUTHZ_ADDRESS] (default 127.0.0.1:9191)
  --ratelimit-address HOST:PORT  bulwark ratelimit [BULWARK_RATELIMIT_ADDRESS] (default 127.0.0.1:8089)
  --telemetry-address HOST:PORT  bulwark telemetry, where sidecars of policies with spec.telemetry stream
                             their requests [BULWARK_TELEMETRY_ADDRESS]; unset: no sidecar streams telemetry
  --telemetry-ca-file FILE   the CA (PEM) of bulwark telemetry's serving certificate: sidecars then stream over
                             TLS and present their projected token of the audience ${TELEMETRY_TOKEN_AUDIENCE}
                             (which the injector mounts) [BULWARK_TELEMETRY_CA_FILE]; unset: plaintext, for a
                             receiver without --cluster, which authenticates nobody (a warning says so)
  --telemetry-server-name NAME  the name its certificate carries, when not the --telemetry-address host
                             [BULWARK_TELEMETRY_SERVER_NAME]
  --authz-timeout-ms MS      how long sidecars wait for bulwark authz before refusing with 503, 10 to 10000,
                             where a rule sets no authzTimeoutMs [BULWARK_AUTHZ_TIMEOUT_MS] (default 250)
${clientAddressHelp.trimEnd()}
  --lease-namespace NS       namespace of the leader-election Lease [POD_NAMESPACE] (default bulwark-system)
  --lease-name NAME          name of the Lease [BULWARK_LEASE_NAME] (default bulwark-controller)
  --identity ID              this replica's identity in the Lease [POD_NAME] (default hostname-pid)
  --trust-domain NAME        SPIFFE trust domain of workload certificates [BULWARK_TRUST_DOMAIN] (default cluster.local)
  --ca-secret NAME           Secret (kubernetes.io/tls: tls.crt, tls.key, optional ca.crt) holding the workload CA
                             [BULWARK_CA_SECRET] (default bulwark-workload-ca)
  --ca-secret-namespace NS   its namespace [BULWARK_CA_SECRET_NAMESPACE] (default: the Lease's namespace)
                             Watched: a new root (yours or cert-manager's) is trusted alongside the old one,
                             then reissues every workload certificate; the old root is trusted until they expire
  --ca-secret-create BOOL    generate a root and create the Secret when it is missing; false when you or
                             cert-manager supply it [BULWARK_CA_SECRET_CREATE] (default true)
  --cluster-domain NAME      the cluster's DNS domain: sidecars' egress proxies route <svc>.<ns>.svc.<domain>
                             [BULWARK_CLUSTER_DOMAIN] (default cluster.local)
  --workload-cert-lifetime D lifetime of workload certificates (e.g. 24h, 90m); renewed after 2/3 of it
                             [BULWARK_WORKLOAD_CERT_LIFETIME] (default 24h)
  --log-level LEVEL          trace, debug, info, warn, error [BULWARK_LOG_LEVEL] (default info)
  -h, --help                 this text
`;

function flag(values: Record<string, string | boolean | undefined>, name: string, env: string, fallback: string): string {
  const v = values[name];
  return typeof v === "string" ? v : (process.env[env] ?? fallback);
}

const CONTROLLER_FLAGS = {
  kubeconfig: { type: "string" },
  "xds-address": { type: "string" },
  "xds-tls-cert": { type: "string" },
  "xds-tls-key": { type: "string" },
  "xds-tls-secret": { type: "string" },
  "xds-tls-dns-names": { type: "string" },
  "xds-token-audience": { type: "string" },
  "http-address": { type: "string" },
  "authz-address": { type: "string" },
  "ratelimit-address": { type: "string" },
  "telemetry-address": { type: "string" },
  "telemetry-ca-file": { type: "string" },
  "telemetry-server-name": { type: "string" },
  "authz-timeout-ms": { type: "string" },
  "client-address-trusted-hops": { type: "string" },
  "client-address-header": { type: "string" },
  "client-address-trusted-cidrs": { type: "string" },
  "lease-namespace": { type: "string" },
  "lease-name": { type: "string" },
  identity: { type: "string" },
  "log-level": { type: "string" },
  "trust-domain": { type: "string" },
  "ca-secret": { type: "string" },
  "ca-secret-namespace": { type: "string" },
  "ca-secret-create": { type: "string" },
  "workload-cert-lifetime": { type: "string" },
  "cluster-domain": { type: "string" },
  "xds-max-connection-age": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** Runs the controller until SIGTERM or SIGINT; resolves with the exit code. */
export async function runController(argv: string[]): Promise<number> {
  if (isStandalone(argv)) return runStandaloneController(argv);
  const { values } = parseArgs({ args: argv, options: CONTROLLER_FLAGS, strict: true });
  if (values.help) {
    process.stdout.write(controllerHelp);
    return 0;
  }
  const levels = ["trace", "debug", "info", "warn", "error"];
  const level = flag(values, "log-level", "BULWARK_LOG_LEVEL", "info");
  if (!levels.includes(level)) throw new UsageError(`--log-level ${level} is not one of ${levels.join(", ")}`);
  const log = componentLogger("controller", level);
  const xdsAddress = parseAddress(flag(values, "xds-address", "BULWARK_XDS_ADDRESS", "0.0.0.0:18000"), "--xds-address");
  const ageText = flag(values, "xds-max-connection-age", "BULWARK_XDS_MAX_CONNECTION_AGE", "30m");
  const maxConnectionAgeMs = ageText === "0" ? undefined : parseDuration(ageText);
  if (ageText !== "0" && (maxConnectionAgeMs === undefined || maxConnectionAgeMs < 60_000))
    throw new UsageError(`--xds-max-connection-age ${ageText} is not 0 (never) or a duration of at least 1m (e.g. 30m, 2h)`);
  const httpAddress = parseAddress(flag(values, "http-address", "BULWARK_HTTP_ADDRESS", "0.0.0.0:8080"), "--http-address");
  const authz = parseAddress(flag(values, "authz-address", "BULWARK_AUTHZ_ADDRESS", "127.0.0.1:9191"), "--authz-address");
  const ratelimit = parseAddress(flag(values, "ratelimit-address", "BULWARK_RATELIMIT_ADDRESS", "127.0.0.1:8089"), "--ratelimit-address");
  const telemetryText = flag(values, "telemetry-address", "BULWARK_TELEMETRY_ADDRESS", "");
  const telemetry = await telemetrySettings({
    address: telemetryText === "" ? undefined : parseAddress(telemetryText, "--telemetry-address"),
    caFile: flag(values, "telemetry-ca-file", "BULWARK_TELEMETRY_CA_FILE", ""),
    serverName: flag(values, "telemetry-server-name", "BULWARK_TELEMETRY_SERVER_NAME", ""),
    log,
  });
  const authzTimeoutText = flag(values, "authz-timeout-ms", "BULWARK_AUTHZ_TIMEOUT_MS", "250");
  const authzTimeoutMs = Number(authzTimeoutText);
  if (!/^[0-9]{1,5}$/.test(authzTimeoutText) || authzTimeoutMs < 10 || authzTimeoutMs > 10_000)
    throw new UsageError(`--authz-timeout-ms ${authzTimeoutText} is not a whole number of milliseconds from 10 to 10000`);
  const clientAddress = parseClientAddressFlags({
    trustedHops: flag(values, "client-address-trusted-hops", "BULWARK_CLIENT_ADDRESS_TRUSTED_HOPS", ""),
    header: flag(values, "client-address-header", "BULWARK_CLIENT_ADDRESS_HEADER", ""),
    trustedCidrs: flag(values, "client-address-trusted-cidrs", "BULWARK_CLIENT_ADDRESS_TRUSTED_CIDRS", ""),
  });

  const trustDomain = flag(values, "trust-domain", "BULWARK_TRUST_DOMAIN", "cluster.local");
  if (!isTrustDomain(trustDomain)) throw new UsageError(`--trust-domain ${trustDomain} is not a trust domain (lowercase letters, digits, dots, dashes, underscores)`);
  const lifetimeText = flag(values, "workload-cert-lifetime", "BULWARK_WORKLOAD_CERT_LIFETIME", "24h");
  const lifetimeMs = parseDuration(lifetimeText);
  if (lifetimeMs === undefined || lifetimeMs < 10_000) throw new UsageError(`--workload-cert-lifetime ${lifetimeText} is not a duration of at least 10s (e.g. 24h, 90m)`);
  const clusterDomain = flag(values, "cluster-domain", "BULWARK_CLUSTER_DOMAIN", "cluster.local");
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(clusterDomain))
    throw new UsageError(`--cluster-domain ${clusterDomain} is not a DNS domain (e.g. cluster.local)`);
  const createText = flag(values, "ca-secret-create", "BULWARK_CA_SECRET_CREATE", "true");
  if (createText !== "true" && createText !== "false") throw new UsageError(`--ca-secret-create ${createText} is not true or false`);
  const leaseNamespace = flag(values, "lease-namespace", "POD_NAMESPACE", "bulwark-system");
  const xdsTls = parseXdsTlsFlags({
    certFile: flag(values, "xds-tls-cert", "BULWARK_XDS_TLS_CERT", ""),
    keyFile: flag(values, "xds-tls-key", "BULWARK_XDS_TLS_KEY", ""),
    secret: flag(values, "xds-tls-secret", "BULWARK_XDS_TLS_SECRET", ""),
    dnsNames: flag(values, "xds-tls-dns-names", "BULWARK_XDS_TLS_DNS_NAMES", ""),
  });
  const audience = flag(values, "xds-token-audience", "BULWARK_XDS_TOKEN_AUDIENCE", XDS_TOKEN_AUDIENCE);
  if (!/^[\x21-\x7e]{1,253}$/.test(audience)) throw new UsageError(`--xds-token-audience ${audience} is not an audience (1 to 253 printable characters, no spaces)`);

  const kc = loadClusterConfig(values.kubeconfig);

  const tls = await loadServingTls(xdsTls, XDS_TLS_FLAGS, { kc: () => kc, namespace: leaseNamespace, log });
  const metrics = new ControllerMetrics(readBuildInfo());
  const xds = new XdsServer({
    host: xdsAddress.host,
    port: xdsAddress.port,
    tls,
    authentication: { authenticator: new TokenReviewAuthenticator({ review: tokenReviewer(kc), audience }) },
    log: (m) => log.warn(m),
    onRejected: (rejection) => metrics.rejectedStreams.inc({ reason: rejection.reason }),
    maxConnectionAgeMs,
  });
  const elector = new LeaderElector(
    kc,
    {
      namespace: leaseNamespace,
      name: flag(values, "lease-name", "BULWARK_LEASE_NAME", "bulwark-controller"),
      identity: flag(values, "identity", "POD_NAME", `${hostname()}-${process.pid}`),
      leaseDurationSeconds: 15,
      renewEverySeconds: 5,
    },
    log,
  );
  const caSecret = {
    namespace: flag(values, "ca-secret-namespace", "BULWARK_CA_SECRET_NAMESPACE", leaseNamespace),
    name: flag(values, "ca-secret", "BULWARK_CA_SECRET", "bulwark-workload-ca"),
  };
  const ca = await loadOrCreateCa(kc, { ...caSecret, create: createText === "true", trustDomain, now: new Date() }, log);
  const certificates = new WorkloadCertificates(ca, {
    rotation: { ...DEFAULT_ROTATION, lifetimeMs },
    onIssued: (issued, renewal) =>
      log.info({ spiffeId: issued.spiffeId, serial: issued.serialNumber, notAfter: issued.notAfter.toISOString(), renewal }, "issued a workload certificate"),
  });
  // The workload CA serves SDS, so the mesh is on: every sidecar gets the egress proxy with mTLS.
  const mesh = { trustDomain, clusterDomain };
  const settings: TranslationSettings = {
    authz: { ...authz, timeoutMs: authzTimeoutMs },
    ratelimit: { ...ratelimit, timeoutMs: 100 },
    rateLimitDomain: "bulwark",
    mesh,
    clientAddress,
    ...(telemetry ? { telemetry } : {}),
  };
  const controller = wireController({
    kc,
    xds,
    elector,
    metrics,
    log,
    certificates,
    caRotation: new CaRotation(certificates, { ...caSecret, trustDomain, log }),
    mesh,
    telemetryReceiver: telemetry !== undefined,
    buildSnapshot: (workload, meshIR) => sharedEncodingSnapshot(buildSidecarResources(workload, settings, meshIR)),
  });

  certificateExpiryGauge(
    metrics.registry,
    { "workload-ca": { pem: () => certificates.current.certificatePem, kind: "chain" }, "xds-serving": { pem: () => tls.certPem, kind: "chain" } },
    () => controller.publicCertificates().map((c) => [c.name, { pem: () => c.certificateChain, kind: "chain" }]),
  );
  const xdsPort = await xds.start();
  let alive = true;
  const http = await startHttpServer({
    host: httpAddress.host,
    port: httpAddress.port,
    registry: metrics.registry,
    checks: { live: () => alive, ready: () => controller.isSynced() && xds.port !== undefined },
  });
  await controller.start();
  elector.start();
  log.info({ xds: `${xdsAddress.host}:${xdsPort}`, http: `${httpAddress.host}:${httpAddress.port}` }, "controller started");

  return untilSignal(log, async () => {
    alive = false;
    await controller.stop();
    await elector.stop();
    await xds.stop(1000);
    await new Promise((r) => http.close(r));
  });
}
