import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import type { Logger } from "pino";
import { componentLogger } from "./logger.js";
import { untilSignal } from "./until-signal.js";
import { XDS_TOKEN_AUDIENCE } from "../operator/kube/xds-authentication.js";
import { DEFAULT_INJECTOR_CONFIG, type InjectorConfig } from "../injector/inject.js";
import { MUTATE_PATH, startWebhookServer } from "../injector/webhook.js";
import { parseAddress, UsageError } from "./usage.js";
import { errorMessage } from "../common/errors.js";
import { injectorTls, injectorTlsFlags, injectorTlsHelp } from "./injector-tls.js";
import { startHttpServer } from "../operator/kube/http-server.js";
import { injectorRegistry } from "../injector/metrics.js";
import { readBuildInfo } from "./build-info.js";

export const injectorHelp = `usage: bulwark injector [flags]

Serves the mutating admission webhook (HTTPS, POST ${MUTATE_PATH}) that adds the Envoy sidecar to
pods of namespaces labelled bulwark.dev/inject=enabled, or of pods labelled so; a pod annotated
bulwark.dev/inject: "false" is left alone. Injection never refuses a pod.

flags (environment variable in brackets):
  --address HOST:PORT        where the API server calls the webhook [BULWARK_INJECTOR_ADDRESS] (default 0.0.0.0:9443)
  --http-address HOST:PORT   /livez, /readyz and /metrics over plain HTTP [BULWARK_INJECTOR_HTTP_ADDRESS] (default 0.0.0.0:8080)
${injectorTlsHelp}  --proxy-image IMAGE        the Envoy image of the sidecar [BULWARK_PROXY_IMAGE] (required)
  --xds-address HOST:PORT    the controller's xDS Service as sidecars reach it [BULWARK_XDS_ADDRESS]
                             (default bulwark-controller.bulwark-system.svc:18000); its certificate must name HOST
  --xds-ca-file PATH         the CA (PEM) of the controller's xDS serving certificate, put in every sidecar's
                             bootstrap [BULWARK_XDS_CA_FILE] (required); re-read every 30 s (new pods get the new one)
  --xds-token-audience AUD   audience of the projected token sidecars present to the controller
                             [BULWARK_XDS_TOKEN_AUDIENCE] (default ${XDS_TOKEN_AUDIENCE})
  --sidecar-port PORT        Envoy's inbound port, named bulwark-inbound [BULWARK_SIDECAR_PORT] (default 15006)
  --admin-port PORT          Envoy's admin port, on loopback [BULWARK_ADMIN_PORT] (default 15000)
  --outbound-port PORT       Envoy's egress proxy on loopback, the app's HTTP_PROXY [BULWARK_OUTBOUND_PORT] (default 15001)
  --inbound-interception M   iptables: an init container (bulwark intercept, root with NET_ADMIN and NET_RAW)
                             redirects inbound TCP to the app port to the sidecar, and HTTP probes of the app
                             port go to the sidecar's probe listener; none: the app port must be closed some
                             other way (a NetworkPolicy, or an app on loopback) [BULWARK_INBOUND_INTERCEPTION]
                             (default iptables)
  --intercept-image IMAGE    the Bulwark image the init container runs (required with iptables) [BULWARK_INTERCEPT_IMAGE]
  --intercept-image-pull-policy P  Always, IfNotPresent or Never [BULWARK_INTERCEPT_IMAGE_PULL_POLICY] (default: Kubernetes')
  --probe-port PORT          the sidecar's listener for the kubelet's probes of the app [BULWARK_PROBE_PORT] (default 15021)
  --proxy-cpu-request Q      [BULWARK_PROXY_CPU_REQUEST] (default 50m)
  --proxy-memory-request Q   [BULWARK_PROXY_MEMORY_REQUEST] (default 64Mi)
  --proxy-memory-limit Q     [BULWARK_PROXY_MEMORY_LIMIT] (default 256Mi)
  --log-level LEVEL          trace, debug, info, warn, error [BULWARK_LOG_LEVEL] (default info)
  -h, --help                 this text
`;

function flag(values: Record<string, string | boolean | undefined>, name: string, env: string, fallback?: string): string {
  const v = values[name];
  const value = typeof v === "string" ? v : (process.env[env] ?? fallback);
  if (value === undefined || value === "") throw new UsageError(`--${name} is required`);
  return value;
}

function portFlag(value: string, name: string): number {
  if (!/^[0-9]{1,5}$/.test(value) || Number(value) < 1 || Number(value) > 65535) throw new UsageError(`--${name} ${value} is not a port`);
  return Number(value);
}

function quantity(value: string, name: string): string {
  if (!/^[0-9]+(\.[0-9]+)?(m|k|M|G|Ki|Mi|Gi)?$/.test(value)) throw new UsageError(`--${name} ${value} is not a Kubernetes quantity`);
  return value;
}

/** A new xDS CA (cert-manager's renewal, the controller's) reaches pods injected from then on; returns a stop function. */
function keepXdsCaCurrent(readCa: () => string, config: InjectorConfig, log: Logger): () => void {
  const reload = setInterval(() => {
    try {
      const ca = readCa();
      if (ca !== config.xds.caPem) {
        config.xds.caPem = ca;
        log.info("reloaded the xDS CA: pods injected from now on trust it");
      }
    } catch (error) {
      log.warn({ err: errorMessage(error) }, "cannot reload the xDS CA; keeping the current one");
    }
  }, 30_000);
  reload.unref();
  return () => clearInterval(reload);
}

/** Runs the injector until SIGTERM or SIGINT; resolves with the exit code. */
export async function runInjector(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      address: { type: "string" },
      "http-address": { type: "string" },
      ...injectorTlsFlags,
      "proxy-image": { type: "string" },
      "xds-address": { type: "string" },
      "xds-ca-file": { type: "string" },
      "xds-token-audience": { type: "string" },
      "sidecar-port": { type: "string" },
      "admin-port": { type: "string" },
      "outbound-port": { type: "string" },
      "inbound-interception": { type: "string" },
      "intercept-image": { type: "string" },
      "intercept-image-pull-policy": { type: "string" },
      "probe-port": { type: "string" },
      "proxy-cpu-request": { type: "string" },
      "proxy-memory-request": { type: "string" },
      "proxy-memory-limit": { type: "string" },
      "log-level": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(injectorHelp);
    return 0;
  }
  const levels = ["trace", "debug", "info", "warn", "error"];
  const level = flag(values, "log-level", "BULWARK_LOG_LEVEL", "info");
  if (!levels.includes(level)) throw new UsageError(`--log-level ${level} is not one of ${levels.join(", ")}`);
  const log = componentLogger("injector", level);
  const address = parseAddress(flag(values, "address", "BULWARK_INJECTOR_ADDRESS", "0.0.0.0:9443"), "--address");
  const httpAddress = parseAddress(flag(values, "http-address", "BULWARK_INJECTOR_HTTP_ADDRESS", "0.0.0.0:8080"), "--http-address");
  const xds = parseAddress(flag(values, "xds-address", "BULWARK_XDS_ADDRESS", "bulwark-controller.bulwark-system.svc:18000"), "--xds-address");
  const caFile = flag(values, "xds-ca-file", "BULWARK_XDS_CA_FILE");
  const readCa = (): string => {
    const pem = readFileSync(caFile, "utf8");
    if (!pem.includes("-----BEGIN CERTIFICATE-----")) throw new UsageError(`--xds-ca-file ${caFile} holds no PEM certificate`);
    return pem;
  };
  const tokenAudience = flag(values, "xds-token-audience", "BULWARK_XDS_TOKEN_AUDIENCE", XDS_TOKEN_AUDIENCE);
  if (!/^[\x21-\x7e]{1,253}$/.test(tokenAudience)) throw new UsageError(`--xds-token-audience ${tokenAudience} is not an audience (1 to 253 printable characters, no spaces)`);
  const config: InjectorConfig = {
    ...DEFAULT_INJECTOR_CONFIG,
    image: flag(values, "proxy-image", "BULWARK_PROXY_IMAGE"),
    xds: { ...xds, caPem: readCa(), tokenAudience },
    sidecarPort: portFlag(flag(values, "sidecar-port", "BULWARK_SIDECAR_PORT", "15006"), "sidecar-port"),
    adminPort: portFlag(flag(values, "admin-port", "BULWARK_ADMIN_PORT", "15000"), "admin-port"),
    outboundPort: portFlag(flag(values, "outbound-port", "BULWARK_OUTBOUND_PORT", "15001"), "outbound-port"),
    resources: {
      requests: {
        cpu: quantity(flag(values, "proxy-cpu-request", "BULWARK_PROXY_CPU_REQUEST", "50m"), "proxy-cpu-request"),
        memory: quantity(flag(values, "proxy-memory-request", "BULWARK_PROXY_MEMORY_REQUEST", "64Mi"), "proxy-memory-request"),
      },
      limits: { memory: quantity(flag(values, "proxy-memory-limit", "BULWARK_PROXY_MEMORY_LIMIT", "256Mi"), "proxy-memory-limit") },
    },
  };
  if (new Set([config.sidecarPort, config.adminPort, config.outboundPort]).size !== 3) throw new UsageError("--sidecar-port, --admin-port and --outbound-port must differ");
  const interception = flag(values, "inbound-interception", "BULWARK_INBOUND_INTERCEPTION", "iptables");
  if (interception !== "iptables" && interception !== "none") throw new UsageError(`--inbound-interception ${interception} is not one of iptables, none`);
  if (interception === "iptables") {
    const probePort = portFlag(flag(values, "probe-port", "BULWARK_PROBE_PORT", "15021"), "probe-port");
    if ([config.sidecarPort, config.adminPort, config.outboundPort].includes(probePort))
      throw new UsageError("--probe-port must differ from --sidecar-port, --admin-port and --outbound-port");
    const image = typeof values["intercept-image"] === "string" ? values["intercept-image"] : process.env.BULWARK_INTERCEPT_IMAGE;
    if (!image) throw new UsageError("--intercept-image is required with --inbound-interception iptables (the Bulwark image); or pass --inbound-interception none");
    const pullPolicy = typeof values["intercept-image-pull-policy"] === "string" ? values["intercept-image-pull-policy"] : process.env.BULWARK_INTERCEPT_IMAGE_PULL_POLICY;
    if (pullPolicy !== undefined && pullPolicy !== "Always" && pullPolicy !== "IfNotPresent" && pullPolicy !== "Never") {
      throw new UsageError(`--intercept-image-pull-policy ${pullPolicy} is not one of Always, IfNotPresent, Never`);
    }
    config.interception = { image, probePort, ...(pullPolicy ? { imagePullPolicy: pullPolicy } : {}) };
  }
  const serving = await injectorTls(values, log);
  const server = await startWebhookServer({ host: address.host, port: address.port, tls: serving.tls, config, log });
  const stopKeeping = serving.keep(server);
  let alive = true;
  const http = await startHttpServer({
    host: httpAddress.host,
    port: httpAddress.port,
    registry: injectorRegistry({ build: readBuildInfo(), servingPem: () => serving.current(), xdsCaPem: () => config.xds.caPem }),
    checks: { live: () => alive, ready: () => alive && server.listening },
  });
  const stopReloading = keepXdsCaCurrent(readCa, config, log);
  const where = (s: { address(): ReturnType<typeof server.address> }): string => {
    const a = s.address();
    return typeof a === "object" && a ? `${a.address}:${a.port}` : String(a);
  };
  log.info({ address: where(server), http: where(http), image: config.image, inboundInterception: interception }, "injector started");
  if (interception === "none")
    log.warn("inbound interception is off: an injected pod's app port is reachable past its sidecar unless a NetworkPolicy or the app's own binding closes it");
  return untilSignal(log, async () => {
    alive = false;
    stopReloading();
    http.close();
    stopKeeping();
    const closed = new Promise((r) => server.close(r));
    server.closeAllConnections();
    await closed;
  });
}
