/**
 * #15: `bulwark telemetry --cluster` as shipped (its own process, TLS from files, TokenReview
 * through the kubeconfig it is given) authenticates every stream: a pod's telemetry token is
 * believed for that pod, anything else is refused before any entry is read.
 */
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TELEMETRY_TOKEN_AUDIENCE } from "../../../contract/telemetry.js";
import { XDS_TOKEN_AUDIENCE } from "../../../operator/kube/xds-authentication.js";
import { freePort, startProcess, waitUntilReady, type ManagedProcess } from "../../env/processes.js";
import { applyCrds, createNamespace, createSidecarPod, deleteNamespace, e2eEnvironment, kubeConfig, metricValue, tsxLoader, waitFor } from "../../support/e2e.js";
import { testEnvironment, uniqueName } from "../../support/environment.js";
import { httpRequest } from "../../support/http.js";
import { servingPki } from "../../support/pki-webhook.js";
import { accessLogMessage, sampleEntry } from "../../support/telemetry-messages.js";
import { streamAccessLogs } from "../../support/telemetry-stream-client.js";
import { podToken } from "../../support/xds-credentials.js";

const env = e2eEnvironment(testEnvironment());
const kc = kubeConfig(env);
const namespace = uniqueName("tel-cli");
const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

let proc: ManagedProcess | undefined;
let grpcPort: number;
let metricsPort: number;
let caPem: string;

const metric = async (name: string, labels: Record<string, string>): Promise<number> =>
  metricValue((await httpRequest(metricsPort, "/metrics", { timeoutMs: 5000 })).body, name, labels) ?? 0;

const messages = (path: string): Uint8Array[] => [
  accessLogMessage({
    logName: `bulwark-telemetry/apisecuritypolicy/${namespace}/web/ports/15006-8080`,
    node: `web-0.${namespace}`,
    entries: [sampleEntry({ status: 200, path })],
  }),
];

beforeAll(async () => {
  await applyCrds(env);
  await createNamespace(kc, namespace);
  await createSidecarPod(kc, { namespace, name: "web-0", labels: { app: "web" }, sidecarPort: 1, appPort: 2 });
  const pki = await servingPki("bulwark-telemetry");
  caPem = pki.caPem;
  const dir = await mkdtemp(join(tmpdir(), "bulwark-telemetry-cli-"));
  await writeFile(join(dir, "tls.crt"), pki.certPem);
  await writeFile(join(dir, "tls.key"), pki.keyPem, { mode: 0o600 });
  grpcPort = await freePort();
  metricsPort = await freePort();
  proc = startProcess({
    name: "bulwark telemetry --cluster",
    command: process.execPath,
    args: [
      "--import",
      tsxLoader(),
      join(repoRoot, "cli/main.ts"),
      "telemetry",
      "--cluster",
      "--kubeconfig",
      env.kubeconfig,
      "--tls-cert",
      join(dir, "tls.crt"),
      "--tls-key",
      join(dir, "tls.key"),
      "--listen",
      `127.0.0.1:${grpcPort}`,
      "--metrics",
      `127.0.0.1:${metricsPort}`,
      "--log-entries",
    ],
    logFile: join(dir, "telemetry.log"),
  });
  await waitUntilReady(proc, async () => (await httpRequest(metricsPort, "/readyz", { timeoutMs: 2000 }).catch(() => ({ status: 0 }))).status === 200, 60_000);
}, 120_000);

afterAll(async () => {
  await proc?.stop();
  await deleteNamespace(kc, namespace);
});

describe("bulwark telemetry --cluster authenticates every stream (#15)", () => {
  it("delivers the entries of a stream with its pod's telemetry token, over TLS", async () => {
    const token = await podToken(kc, { namespace, pod: "web-0", audience: TELEMETRY_TOKEN_AUDIENCE });
    const result = await streamAccessLogs({ port: grpcPort, messages: messages("/v1/genuine"), token, tls: { caPem, serverName: "localhost" } });
    expect(result.status).toBe("0");
    const log = await waitFor("the entry's log line", async () => {
      const text = await readFile(proc!.logFile, "utf8");
      return text.includes('"path":"/v1/genuine"') ? text : undefined;
    });
    expect(log).toContain(`"sidecar":"web-0.${namespace}"`);
    expect(log).not.toContain(token);
  });

  it.each([
    ["no token", undefined, "no_token"],
    ["the pod's xDS token", XDS_TOKEN_AUDIENCE, "wrong_audience"],
  ])("refuses %s: counted, nothing logged as an entry", async (_what, audience, reason) => {
    const token = audience ? await podToken(kc, { namespace, pod: "web-0", audience }) : undefined;
    const path = `/v1/refused-${reason}`;
    const result = await streamAccessLogs({ port: grpcPort, messages: messages(path), ...(token ? { token } : {}), tls: { caPem, serverName: "localhost" } });
    expect(result.status).toBe("16");
    await waitFor(`bulwark_telemetry_rejected_streams_total{reason="${reason}"}`, async () =>
      (await metric("bulwark_telemetry_rejected_streams_total", { reason })) > 0 ? true : undefined,
    );
    expect(await readFile(proc!.logFile, "utf8")).not.toContain(`"path":"${path}"`);
  });
});
