/**
 * #15: bulwark telemetry believes a stream only as far as its token goes. The receiver (TLS,
 * TokenReview through the real API server with the telemetry audience) against a real Envoy
 * sidecar whose access logger presents its pod's projected-style token (TokenRequest, bound to a
 * real Pod object), and against what an attacker would send instead: each refused stream delivers
 * nothing to any sink, and is counted and logged.
 */
import { createServer, request, type Server } from "node:http";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { standaloneBootstrap } from "../../../envoy/bootstrap/standalone-bootstrap.js";
import { TELEMETRY_TOKEN_AUDIENCE, type TelemetryEntry } from "../../../contract/telemetry.js";
import { TokenReviewAuthenticator, tokenReviewer, XDS_TOKEN_AUDIENCE } from "../../../operator/kube/xds-authentication.js";
import { policy, service, sidecarPod } from "../../../operator/testdata/objects.js";
import { defaultSettings, render } from "../../../operator/translate/render.js";
import { startTelemetryService, type TelemetryService } from "../../../services/telemetry/service.js";
import { freePort } from "../../env/processes.js";
import { startEnvoy, type EnvoyProcess } from "../../support/envoy-process.js";
import { createNamespace, createSidecarPod, deleteNamespace, e2eEnvironment, kubeConfig, metricValue, waitFor } from "../../support/e2e.js";
import { testEnvironment, uniqueName } from "../../support/environment.js";
import { servingPki } from "../../support/pki-webhook.js";
import { accessLogMessage, sampleEntry } from "../../support/telemetry-messages.js";
import { streamAccessLogs, type TelemetryCallResult } from "../../support/telemetry-stream-client.js";
import { podToken } from "../../support/xds-credentials.js";

const kc = kubeConfig(e2eEnvironment(testEnvironment()));
const namespace = uniqueName("tel-auth");
const other = uniqueName("tel-other");
/** The certificate names 127.0.0.1 and localhost; clients ask for localhost (Envoy through grpc.ssl_target_name_override). */
const SERVER_NAME = "localhost";

let pki: { caPem: string; certPem: string; keyPem: string };
let telemetry: TelemetryService;
let app: Server;
let dir: string;
const envoys: EnvoyProcess[] = [];
const received: TelemetryEntry[] = [];
const logLines: string[] = [];

const metrics = async (): Promise<string> => (await fetch(`http://127.0.0.1:${telemetry.httpPort}/metrics`)).text();
const rejected = async (reason: string): Promise<number> => metricValue(await metrics(), "bulwark_telemetry_rejected_streams_total", { reason }) ?? 0;

/** The workload name the translation gives `policyName` in `ns` (sidecar and app ports as rendered). */
function workloadOf(ns: string, ports: { sidecar: number; app: number }): string {
  return `apisecuritypolicy/${ns}/web/ports/${ports.sidecar}-${ports.app}`;
}

/** A real Envoy sidecar of pod `pod` of `namespace` (node id `nodeId`), streaming telemetry to the receiver with the token in `tokenFile`. */
async function startSidecar(options: { pod: string; nodeId: string; tokenFile: string }): Promise<{ port: number; workload: string }> {
  const appAddress = app.address() as { port: number };
  const sidecarPort = await freePort();
  const rendered = render(
    {
      policies: [
        policy({
          name: "web",
          namespace,
          created: "2026-01-01T00:00:00Z",
          spec: { targetRefs: [{ kind: "Service", name: "web" }], defaultAction: "Allow", telemetry: { deviceHeader: "X-Device-Id" } },
        }),
      ],
      services: [service(namespace, "web", { app: "web" })],
      pods: [sidecarPod(namespace, options.pod, { app: "web" }, { sidecar: sidecarPort, app: appAddress.port })],
      secrets: [],
      now: new Date().toISOString(),
    },
    {
      ...defaultSettings,
      telemetry: { host: "127.0.0.1", port: telemetry.grpcPort, tls: { caPem: pki.caPem, serverName: SERVER_NAME }, tokenFile: options.tokenFile },
    },
  );
  const workload = rendered.workloads[0];
  if (!workload) throw new Error(`not rendered: ${JSON.stringify(rendered.resolution.policies[0]?.accepted)}`);
  envoys.push(await startEnvoy(standaloneBootstrap(workload.resources, { nodeId: options.nodeId }), `envoy-telemetry-auth-${options.pod}`));
  return { port: sidecarPort, workload: workload.workload };
}

function get(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, agent: false, headers: { "x-device-id": "device-1" } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end();
  });
}

async function tokenFile(name: string, token: string): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, token, { mode: 0o600 });
  return file;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "bulwark-telemetry-auth-"));
  await createNamespace(kc, namespace);
  await createNamespace(kc, other);
  for (const name of ["web-0", "web-1"]) await createSidecarPod(kc, { namespace, name, labels: { app: "web" }, sidecarPort: 1, appPort: 2 });
  await createSidecarPod(kc, { namespace: other, name: "intruder-0", labels: { app: "intruder" }, sidecarPort: 1, appPort: 2 });
  pki = await servingPki("bulwark-telemetry");
  app = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { "content-type": "text/plain" }).end("hello");
  });
  await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", resolve));
  const log = pino({ level: "info" }, new Writable({ write: (chunk: Buffer, _e, done) => (logLines.push(chunk.toString()), done()) }));
  telemetry = await startTelemetryService(
    {
      listen: { host: "127.0.0.1", port: 0 },
      metrics: { host: "127.0.0.1", port: 0 },
      log,
      authentication: { authenticator: new TokenReviewAuthenticator({ review: tokenReviewer(kc), audience: TELEMETRY_TOKEN_AUDIENCE }) },
      tls: { certPem: pki.certPem, keyPem: pki.keyPem },
    },
    [(entries) => received.push(...entries)],
  );
}, 120_000);

afterAll(async () => {
  for (const envoy of envoys) await envoy.stop();
  await telemetry?.stop();
  await new Promise((resolve) => app?.close(resolve));
  await deleteNamespace(kc, namespace);
  await deleteNamespace(kc, other);
});

describe("telemetry streams are authenticated and bound to their pod (#15)", () => {
  it("a real Envoy sidecar with its pod's telemetry token streams over TLS, and its entries arrive as that pod's", async () => {
    const token = await podToken(kc, { namespace, pod: "web-0", audience: TELEMETRY_TOKEN_AUDIENCE });
    const sidecar = await startSidecar({ pod: "web-0", nodeId: `web-0.${namespace}`, tokenFile: await tokenFile("web-0", token) });
    expect(await get(sidecar.port, "/v1/orders/1")).toBe(200);
    const entry = await waitFor("the entry of the request", () => received.find((e) => e.path === "/v1/orders/1"), 20_000);
    expect(entry).toMatchObject({ workload: sidecar.workload, sidecar: `web-0.${namespace}`, status: 200, device: "device-1" });
    expect(logLines.join("")).not.toContain(token);
  });

  it("a real Envoy presenting another pod's token (web-0's, claiming web-1) delivers nothing", async () => {
    const before = await rejected("node_mismatch");
    const token = await podToken(kc, { namespace, pod: "web-0", audience: TELEMETRY_TOKEN_AUDIENCE });
    const sidecar = await startSidecar({ pod: "web-1", nodeId: `web-1.${namespace}`, tokenFile: await tokenFile("web-1-stolen", token) });
    expect(await get(sidecar.port, "/v1/impostor")).toBe(200);
    await waitFor("the impostor's stream to be refused", async () => ((await rejected("node_mismatch")) > before ? true : undefined), 20_000);
    // The sidecar flushes about once a second: give it time to (fail to) deliver.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(received.filter((e) => e.path === "/v1/impostor")).toEqual([]);
  });

  const entries = (options: { node: string; logNamespace?: string }): Uint8Array[] => [
    accessLogMessage({
      logName: `bulwark-telemetry/${workloadOf(options.logNamespace ?? namespace, { sidecar: 15006, app: 8080 })}`,
      node: options.node,
      entries: [sampleEntry({ status: 401, path: "/v1/forged", clientAddress: "203.0.113.99" })],
    }),
  ];
  const tls = { caPem: "", serverName: SERVER_NAME };
  const call = async (options: { token?: string; node: string; logNamespace?: string; plaintext?: boolean }): Promise<TelemetryCallResult> =>
    streamAccessLogs({
      port: telemetry.grpcPort,
      messages: entries(options),
      ...(options.token ? { token: options.token } : {}),
      ...(options.plaintext ? {} : { tls: { ...tls, caPem: pki.caPem } }),
    });

  const cases: { name: string; reason: string; status: string | undefined; attempt: () => Promise<TelemetryCallResult> }[] = [
    { name: "no token", reason: "no_token", status: "16", attempt: () => call({ node: `web-1.${namespace}` }) },
    {
      name: "the pod's xDS token (another audience)",
      reason: "wrong_audience",
      status: "16",
      attempt: async () => call({ token: await podToken(kc, { namespace, pod: "web-1", audience: XDS_TOKEN_AUDIENCE }), node: `web-1.${namespace}` }),
    },
    {
      name: "a ServiceAccount token not bound to a pod",
      reason: "not_pod_token",
      status: "16",
      attempt: async () => call({ token: await podToken(kc, { namespace, pod: "web-1", audience: TELEMETRY_TOKEN_AUDIENCE, bound: false }), node: `web-1.${namespace}` }),
    },
    {
      name: "a pod of another namespace reporting for this namespace's workload",
      reason: "namespace_mismatch",
      status: "7",
      attempt: async () => call({ token: await podToken(kc, { namespace: other, pod: "intruder-0", audience: TELEMETRY_TOKEN_AUDIENCE }), node: `intruder-0.${other}` }),
    },
    {
      name: "a node id that is not the token's pod",
      reason: "node_mismatch",
      status: "7",
      attempt: async () => call({ token: await podToken(kc, { namespace: other, pod: "intruder-0", audience: TELEMETRY_TOKEN_AUDIENCE }), node: `web-1.${namespace}` }),
    },
    {
      name: "a plaintext connection",
      reason: "tls",
      status: undefined,
      attempt: async () => call({ token: await podToken(kc, { namespace, pod: "web-1", audience: TELEMETRY_TOKEN_AUDIENCE }), node: `web-1.${namespace}`, plaintext: true }),
    },
  ];

  it.each(cases)("$name: delivers nothing, is counted ($reason) and logged", async ({ reason, status, attempt }) => {
    const before = await rejected(reason);
    const result = await attempt();
    expect(result.status).toBe(status);
    expect(received.filter((e) => e.path === "/v1/forged")).toEqual([]);
    await waitFor(`bulwark_telemetry_rejected_streams_total{reason="${reason}"} to grow`, async () => ((await rejected(reason)) > before ? true : undefined), 10_000);
    expect(logLines.some((l) => l.includes("refused a telemetry stream") && l.includes(`"reason":"${reason}"`))).toBe(true);
  });

  it("the same forged entries with the token of the workload's own pod are delivered (the refusals above are the binding, not the message)", async () => {
    const result = await call({ token: await podToken(kc, { namespace, pod: "web-1", audience: TELEMETRY_TOKEN_AUDIENCE }), node: `web-1.${namespace}` });
    expect(result.status).toBe("0");
    expect(received.filter((e) => e.path === "/v1/forged").map((e) => e.sidecar)).toEqual([`web-1.${namespace}`]);
  });
});
