/** `bulwark controller -f PATH`: xDS from policy files on a developer's machine, no Kubernetes. */
import { parseArgs } from "node:util";
import type { TranslationSettings } from "../contract/ir.js";
import { buildSidecarResources } from "../envoy/build/sidecar.js";
import { sharedEncodingSnapshot } from "../envoy/snapshot/shared-encoding.js";
import { XdsServer } from "../envoy/xds/server.js";
import { Controller } from "../operator/controller/controller.js";
import { ControllerMetrics } from "../operator/controller/metrics.js";
import { WorkloadCa } from "../operator/identity/ca.js";
import { DEFAULT_ROTATION } from "../operator/identity/rotation.js";
import { WorkloadCertificates } from "../operator/identity/workload-certificates.js";
import { startHttpServer } from "../operator/kube/http-server.js";
import { FileObjects } from "../operator/standalone/file-objects.js";
import { LoggedStatus, soloLeadership, SoloReports } from "../operator/standalone/solo.js";
import { readBuildInfo } from "./build-info.js";
import { localSidecarFlags, localSidecarHelp, parseLocalSidecarFlags } from "./local-sidecar-flags.js";
import { componentLogger } from "./logger.js";
import { untilSignal } from "./until-signal.js";
import { parseAddress, UsageError } from "./usage.js";
import { DiscoveryBook } from "../operator/oidc/discovery-book.js";

export const standaloneHelp = `usage: bulwark controller -f PATH [-f PATH...] [--local [NS/]SERVICE] [flags]

Standalone mode, for a developer's machine: the objects (APISecurityPolicy, Service, Pod, Secret)
come from files instead of the API server and are read again whenever one changes; sidecars get
their configuration over xDS as in a cluster. Policy status is logged (a line per change of a
policy's conditions) instead of written. xDS is served without TLS or pod authentication, so only
on a loopback address; the workload CA is made in memory at start. Bootstrap a local Envoy with
\`bulwark render -f PATH --local ... --bootstrap --xds-address HOST:PORT\`.

flags:
  -f, --filename PATH        a file or directory of *.yaml, *.yml, *.json (repeatable); watched
${localSidecarHelp.trimEnd()}
  --xds-address HOST:PORT    where sidecars connect, a loopback address (default 127.0.0.1:18000)
  --http-address HOST:PORT   /livez, /readyz and /metrics (default 127.0.0.1:18001)
  --authz-address HOST:PORT  bulwark authz, for routes that need it (default 127.0.0.1:9191)
  --ratelimit-address HOST:PORT  bulwark ratelimit (default 127.0.0.1:8089)
  --telemetry-address HOST:PORT  bulwark telemetry (policies with spec.telemetry); unset: no telemetry stream
  --log-level LEVEL          trace, debug, info, warn, error (default info)
  -h, --help                 this text
`;

const LOOPBACK = /^(127\.[0-9]+\.[0-9]+\.[0-9]+|::1|localhost)$/;

/** True when argv asks for standalone mode (objects from files). */
export function isStandalone(argv: readonly string[]): boolean {
  return argv.some((a) => a === "-f" || a === "--filename" || a.startsWith("--filename=") || /^-f./.test(a));
}

export async function runStandaloneController(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      filename: { type: "string", short: "f", multiple: true },
      ...localSidecarFlags,
      "xds-address": { type: "string" },
      "http-address": { type: "string" },
      "authz-address": { type: "string" },
      "ratelimit-address": { type: "string" },
      "telemetry-address": { type: "string" },
      "log-level": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(standaloneHelp);
    return 0;
  }
  const level = values["log-level"] ?? "info";
  if (!["trace", "debug", "info", "warn", "error"].includes(level)) throw new UsageError(`--log-level ${level} is not one of trace, debug, info, warn, error`);
  const log = componentLogger("controller", level);
  const xdsAddress = parseAddress(values["xds-address"] ?? "127.0.0.1:18000", "--xds-address");
  if (!LOOPBACK.test(xdsAddress.host))
    throw new UsageError(`--xds-address ${xdsAddress.host}: standalone mode serves xDS without TLS or authentication, so only on a loopback address (127.0.0.1, ::1)`);
  const httpAddress = parseAddress(values["http-address"] ?? "127.0.0.1:18001", "--http-address");
  const settings: TranslationSettings = {
    authz: { ...parseAddress(values["authz-address"] ?? "127.0.0.1:9191", "--authz-address"), timeoutMs: 250 },
    ratelimit: { ...parseAddress(values["ratelimit-address"] ?? "127.0.0.1:8089", "--ratelimit-address"), timeoutMs: 100 },
    rateLimitDomain: "bulwark",
    ...(values["telemetry-address"] ? { telemetry: parseAddress(values["telemetry-address"], "--telemetry-address") } : {}),
  };
  const local = parseLocalSidecarFlags(values);

  const metrics = new ControllerMetrics(readBuildInfo());
  const xds = new XdsServer({
    host: xdsAddress.host,
    port: xdsAddress.port,
    authentication: "none",
    log: (m) => log.warn(m),
    insecureBecause: "Standalone mode, for one machine: it listens on loopback only (checked), and its workload CA lives in memory.",
  });
  const certificates = new WorkloadCertificates(await WorkloadCa.generate("cluster.local", new Date()), { rotation: DEFAULT_ROTATION });
  const mesh = { trustDomain: "cluster.local", clusterDomain: "cluster.local" };
  const objects = new FileObjects({ paths: values.filename ?? [], ...(local ? { local } : {}), log, onChange: () => controller.schedule() });
  const controller = new Controller({
    objects,
    writer: new LoggedStatus(log),
    reports: new SoloReports(),
    cache: xds.cache,
    leadership: soloLeadership,
    clock: () => new Date(),
    metrics,
    log,
    certificates,
    mesh,
    telemetryReceiver: settings.telemetry !== undefined,
    buildSnapshot: (workload, meshIR) => sharedEncodingSnapshot(buildSidecarResources(workload, { ...settings, mesh }, meshIR)),
    // jwks.oidcDiscovery: fetched here as in the cluster controller (wiring.ts).
    discovery: new DiscoveryBook({ onChange: () => controller.schedule(), log }),
  });
  const port = await xds.start();
  let alive = true;
  const http = await startHttpServer({ ...httpAddress, registry: metrics.registry, checks: { live: () => alive, ready: () => controller.isSynced() } });
  await controller.start();
  log.info(
    { xds: `${xdsAddress.host}:${port}`, http: `${httpAddress.host}:${httpAddress.port}`, ...(objects.localNodeId ? { localSidecar: objects.localNodeId } : {}) },
    "standalone controller started",
  );
  return untilSignal(log, async () => {
    alive = false;
    await controller.stop();
    await xds.stop(1000);
    await new Promise((r) => http.close(r));
  });
}
