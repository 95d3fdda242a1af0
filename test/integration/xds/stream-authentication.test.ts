/**
 * The control plane serves a workload's configuration and key only to that workload's pod:
 * `bulwark controller` (a process, TLS on its xDS port, TokenReview through the real API server)
 * against a real Envoy sidecar with a token from TokenRequest, and ADS clients that try what an
 * attacker would. Each refused attempt gets nothing, and is counted and logged.
 */
import { credentials, makeGenericClientConstructor, Metadata, type ClientDuplexStream } from "@grpc/grpc-js";
import { decodeJwt, decodeProtectedHeader, SignJWT } from "jose";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createPrivateKey } from "node:crypto";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { aggregatedDiscoveryService, type DiscoveryRequest, type DiscoveryResponse } from "../../../envoy/xds/ads-protocol.js";
import { XdsType } from "../../../envoy/type-urls.js";
import {
  applyCrds,
  createNamespace,
  createService,
  createSidecarPod,
  deleteNamespace,
  e2eEnvironment,
  kubeConfig,
  kubectl,
  policyManifest,
  startSidecarPod,
  waitFor,
  type ControllerProcess,
  type E2eEnvironment,
  type SidecarPod,
} from "../../support/e2e.js";
import { testEnvironment, uniqueName } from "../../support/environment.js";
import { startMeshController } from "../../support/pki-mesh.js";
import { podToken, xdsServingFiles } from "../../support/xds-credentials.js";

interface ProbeResult {
  /** Discovery responses the stream got (anything at all is a leak). */
  responses: DiscoveryResponse[];
  code?: number;
  details?: string;
}

const AdsClient = makeGenericClientConstructor(aggregatedDiscoveryService(), "AggregatedDiscoveryService");

/** Opens an ADS stream as `nodeId`, asks for listeners and secrets, and reports what came back within `waitMs`. */
async function probe(options: { port: number; tls: boolean; token?: string; nodeId: string; waitMs?: number }): Promise<ProbeResult> {
  const { caPem } = await xdsServingFiles();
  const client = new AdsClient(`127.0.0.1:${options.port}`, options.tls ? credentials.createSsl(Buffer.from(caPem)) : credentials.createInsecure());
  const metadata = new Metadata();
  if (options.token) metadata.set("authorization", `Bearer ${options.token}`);
  const call = (client as unknown as { StreamAggregatedResources(m: Metadata): ClientDuplexStream<DiscoveryRequest, DiscoveryResponse> }).StreamAggregatedResources(metadata);
  const result: ProbeResult = { responses: [] };
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, options.waitMs ?? 3000);
    call.on("data", (response: DiscoveryResponse) => result.responses.push(response));
    call.on("error", (error: { code?: number; details?: string }) => {
      result.code = error.code;
      result.details = error.details;
      clearTimeout(timer);
      resolve();
    });
    call.write({ node: { id: options.nodeId, cluster: "attacker" }, type_url: XdsType.Listener });
    call.write({ type_url: XdsType.Cluster });
  });
  call.cancel();
  client.close();
  return result;
}

/** The same token, re-signed with the cluster's ServiceAccount key to have expired an hour ago. */
async function expiredCopy(token: string, signingKeyFile: string): Promise<string> {
  const header = decodeProtectedHeader(token);
  const claims = decodeJwt(token);
  const now = Math.floor(Date.now() / 1000);
  const key = createPrivateKey(await readFile(signingKeyFile, "utf8"));
  return new SignJWT({ ...claims, iat: now - 7200, nbf: now - 7200, exp: now - 3600 })
    .setProtectedHeader({ alg: header.alg ?? "RS256", ...(header.kid ? { kid: header.kid } : {}) })
    .sign(key);
}

describe("authenticated xDS: TLS, and each stream bound to the pod its token names", () => {
  let env: E2eEnvironment;
  const kc = kubeConfig(e2eEnvironment(testEnvironment()));
  const namespace = uniqueName("xds-auth");
  let controller: ControllerProcess;
  let sidecar: SidecarPod | undefined;
  const logged = async (line: RegExp): Promise<boolean> => line.test(await readFile(controller.logFile, "utf8"));
  const rejected = async (reason: string): Promise<number> => (await controller.metric("bulwark_xds_rejected_streams_total", { reason })) ?? 0;

  beforeAll(async () => {
    env = e2eEnvironment(testEnvironment());
    await applyCrds(env);
    await createNamespace(kc, namespace);
    await createService(kc, namespace, "web", { app: "web" });
    // Strict mTLS: the sidecars' snapshots carry SDS secrets (their workload certificate and key).
    await kubectl(
      env,
      ["apply", "--namespace", namespace],
      policyManifest(namespace, "web", { targetRefs: [{ kind: "Service", name: "web" }], defaultAction: "Allow", tls: { mtls: "Strict" } }),
    );
    controller = await startMeshController(env, { leaseNamespace: namespace, identity: "auth-0", trustDomain: "cluster.local" });
    // A second pod of the workload whose configuration (and key) impostors want.
    await createSidecarPod(kc, { namespace, name: "web-1", labels: { app: "web" }, sidecarPort: 1, appPort: 2 });
  }, 180_000);

  afterAll(async () => {
    await sidecar?.stop();
    await controller?.stop();
    await deleteNamespace(kc, namespace);
  });

  it("a sidecar with its pod's token gets its configuration over TLS, and the certificate of its own ServiceAccount", async () => {
    sidecar = await startSidecarPod(env, kc, { namespace, pod: "web-0", labels: { app: "web" }, xdsPort: controller.xdsPort, delta: false });
    const uris = await waitFor(
      "the sidecar's workload certificate over SDS",
      async () => {
        const certs = JSON.parse((await sidecar!.admin("/certs")).body) as { certificates: { cert_chain: { subject_alt_names: { uri?: string }[] }[] }[] };
        const found = certs.certificates.flatMap((c) => c.cert_chain.flatMap((x) => x.subject_alt_names.flatMap((s) => (s.uri ? [s.uri] : []))));
        return found.length > 0 ? found : undefined;
      },
      30_000,
    );
    expect([...new Set(uris)]).toEqual([`spiffe://cluster.local/ns/${namespace}/sa/default`]);
    expect(await controller.metric("bulwark_xds_connected_sidecars")).toBe(1);
    // A gRPC client holding web-0's token, as web-0: served as well.
    const own = await probe({ port: controller.xdsPort, tls: true, token: await podToken(kc, { namespace, pod: "web-0" }), nodeId: `web-0.${namespace}` });
    expect(own.code).toBeUndefined();
    expect(own.responses.length).toBeGreaterThan(0);
  });

  const cases: { name: string; reason: string; code: number; attempt: () => Promise<ProbeResult> }[] = [
    { name: "no token", reason: "no_token", code: 16, attempt: async () => probe({ port: controller.xdsPort, tls: true, nodeId: `web-1.${namespace}` }) },
    {
      name: "another pod's token (web-0's, claiming web-1)",
      reason: "node_mismatch",
      code: 7,
      attempt: async () => probe({ port: controller.xdsPort, tls: true, token: await podToken(kc, { namespace, pod: "web-0" }), nodeId: `web-1.${namespace}` }),
    },
    {
      name: "a forged node id (a valid token, a pod of another namespace)",
      reason: "node_mismatch",
      code: 7,
      attempt: async () => probe({ port: controller.xdsPort, tls: true, token: await podToken(kc, { namespace, pod: "web-1" }), nodeId: "bulwark-controller-0.bulwark-system" }),
    },
    {
      name: "a token of another audience (the API server's own)",
      reason: "wrong_audience",
      code: 16,
      attempt: async () =>
        probe({
          port: controller.xdsPort,
          tls: true,
          token: await podToken(kc, { namespace, pod: "web-1", audience: "https://kubernetes.default.svc.cluster.local" }),
          nodeId: `web-1.${namespace}`,
        }),
    },
    {
      name: "a ServiceAccount token not bound to a pod",
      reason: "not_pod_token",
      code: 16,
      attempt: async () => probe({ port: controller.xdsPort, tls: true, token: await podToken(kc, { namespace, pod: "web-1", bound: false }), nodeId: `web-1.${namespace}` }),
    },
    {
      name: "a plaintext connection",
      reason: "plaintext",
      code: 14,
      attempt: async () => probe({ port: controller.xdsPort, tls: false, token: "irrelevant", nodeId: `web-1.${namespace}` }),
    },
  ];

  it.each(cases)("$name: gets nothing, is counted ($reason) and logged", async ({ reason, code, attempt }) => {
    const before = await rejected(reason);
    const result = await attempt();
    expect(result.responses).toEqual([]);
    expect(result.code).toBe(code);
    await waitFor(`bulwark_xds_rejected_streams_total{reason="${reason}"} to grow`, async () => ((await rejected(reason)) > before ? true : undefined), 10_000);
    // The log line is written asynchronously: wait for it rather than read the file once.
    await waitFor(`the log line for ${reason}`, async () => ((await logged(new RegExp(`refused an ADS stream from [^"]+ \\(${reason}\\)`))) ? true : undefined), 10_000);
    expect(await controller.metric("bulwark_xds_connected_sidecars")).toBe(1);
  });

  it("an expired token (signed by the cluster, expired an hour ago): gets nothing, is counted (invalid_token) and logged", async (context) => {
    const signingKey = join(dirname(testEnvironment().kubeconfig), "pki", "sa.key");
    if (!existsSync(signingKey)) context.skip(); // only the local cluster's ServiceAccount key is at hand
    const before = await rejected("invalid_token");
    const token = await expiredCopy(await podToken(kc, { namespace, pod: "web-1" }), signingKey);
    const result = await probe({ port: controller.xdsPort, tls: true, token, nodeId: `web-1.${namespace}` });
    expect(result.responses).toEqual([]);
    expect(result.code).toBe(16);
    expect(result.details).toMatch(/expired|refused/i);
    await waitFor("the invalid_token counter to grow", async () => ((await rejected("invalid_token")) > before ? true : undefined), 10_000);
    await waitFor("the log line for invalid_token", async () => ((await logged(/refused an ADS stream from [^"]+ \(invalid_token\)/)) ? true : undefined), 10_000);
  });

  it("a real Envoy presenting another pod's token never gets configuration", async () => {
    // web-1's Envoy with web-0's token file: what a node that stole a token would run.
    const { startImpostorEnvoy } = await import("../../support/xds-impostor.js");
    const before = await rejected("node_mismatch");
    const impostor = await startImpostorEnvoy(env, kc, { namespace, claim: "web-1", tokenOf: "web-0", xdsPort: controller.xdsPort });
    try {
      await waitFor("the impostor's stream to be refused", async () => ((await rejected("node_mismatch")) > before ? true : undefined), 20_000);
      const stats = await impostor.stats("^(listener_manager.lds.update_success|cluster_manager.cds.update_success)$");
      expect(stats.get("listener_manager.lds.update_success") ?? 0).toBe(0);
      expect(stats.get("cluster_manager.cds.update_success") ?? 0).toBe(0);
    } finally {
      await impostor.stop();
    }
  });
});
