/**
 * A public certificate at the sidecar, through the real pipeline and the real Envoy: the
 * controller's translation and snapshot runner turn a policy with spec.tls.certificate and a
 * kubernetes.io/tls Secret into a sidecar snapshot served over ADS (the certificate as its own SDS
 * secret); a real Envoy serves it with TLS 1.3 and HSTS. A new certificate in the Secret reaches
 * new handshakes while an open connection keeps serving; a broken Secret closes every connection.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SnapshotCache } from "../../../envoy/xds/cache.js";
import { XdsServer } from "../../../envoy/xds/server.js";
import { ControllerMetrics } from "../../../operator/controller/metrics.js";
import { SnapshotRunner } from "../../../operator/controller/snapshot-runner.js";
import type { SecretObject, TranslationInput } from "../../../operator/resolve/objects.js";
import { policy, service, sidecarPod } from "../../../operator/testdata/objects.js";
import { translate, type Translation } from "../../../operator/translate/translate.js";
import { freePort } from "../../env/processes.js";
import { realSnapshot, silentLog } from "../../support/controller-fakes.js";
import { testEnvironment } from "../../support/environment.js";
import { httpRequest, type Upstream } from "../../support/http.js";
import { waitFor } from "../../support/poll.js";
import { openTls } from "../../support/pki-mesh.js";
import {
  httpsGet,
  issuePublicCertificate,
  serialOf,
  tlsHandshake,
  tlsSecret,
  type HttpsAnswer,
  type PublicCertificate,
  type PublicClientOptions,
} from "../../support/public-certificate.js";
import { stat, startSidecar, type Sidecar } from "../../support/xds-sidecar.js";
import { startUpstream } from "../../support/xds-traffic.js";

const HOST = "api.shop.example";
const NODE = "api-1.shop";
const HSTS = "max-age=31536000; includeSubDomains";

let upstream: Upstream;
let server: XdsServer;
let sidecar: Sidecar;
let runner: SnapshotRunner;
let listenerPort: number;
let first: PublicCertificate;
let second: PublicCertificate;
let lastTranslation: Translation;

function objects(secret: SecretObject | undefined): TranslationInput {
  return {
    policies: [
      policy({
        name: "api",
        created: "2026-01-01T00:00:00Z",
        spec: {
          targetRefs: [{ kind: "Service", name: "api" }],
          defaultAction: "Deny",
          rules: [{ name: "health", match: { path: "/v1/health" }, authentication: "None" }],
          tls: { certificate: { secretRef: { name: "api-tls" } }, hsts: { maxAge: "8760h", includeSubDomains: true } },
        },
      }),
    ],
    services: [service("shop", "api", { app: "api" })],
    pods: [sidecarPod("shop", "api-1", { app: "api" }, { sidecar: listenerPort, app: upstream.port })],
    secrets: secret ? [secret] : [],
    now: new Date().toISOString(),
  };
}

async function publish(secret: SecretObject | undefined): Promise<void> {
  const input = objects(secret);
  lastTranslation = translate(input);
  await runner.publish(lastTranslation, input.pods, new Date());
}

const client = (maxVersion?: PublicClientOptions["maxVersion"]): PublicClientOptions => ({
  port: listenerPort,
  host: HOST,
  ca: [first.caPem, second.caPem],
  ...(maxVersion ? { maxVersion } : {}),
});
const get = (path: string, maxVersion?: PublicClientOptions["maxVersion"]): Promise<HttpsAnswer> => httpsGet(path, client(maxVersion));
const handshake = (): Promise<string> => tlsHandshake(client());

beforeAll(async () => {
  [first, second] = await Promise.all([issuePublicCertificate([HOST]), issuePublicCertificate([HOST])]);
  upstream = await startUpstream("app");
  listenerPort = await freePort();
  const cache = new SnapshotCache();
  server = new XdsServer({ host: "127.0.0.1", port: 0, cache, authentication: "none" });
  const xdsPort = await server.start();
  runner = new SnapshotRunner({ cache, buildSnapshot: realSnapshot, metrics: new ControllerMetrics(), log: silentLog });
  await publish(tlsSecret("shop", "api-tls", first));
  sidecar = await startSidecar({ envoyBinary: testEnvironment().binaries.envoy, nodeId: NODE, xdsPort, delta: false });
  let last = "";
  await waitFor("the sidecar serves the public certificate", async () => (await get("/v1/health").catch((error: unknown) => void (last = String(error))))?.status === 200).catch(
    (error: unknown) => {
      throw new Error(`${String(error)} (last: ${last})`);
    },
  );
});

afterAll(async () => {
  await sidecar?.stop();
  server?.kill();
  await upstream?.close();
});

describe("a public certificate served by the sidecar", () => {
  it("serves the Secret's certificate with TLS 1.3 and HSTS; the policy still decides (allowed: 200 from the app, refused: 404 from the sidecar, both with HSTS)", async () => {
    expect(lastTranslation.resolution.policies[0]?.resolvedRefs.status).toBe("True");
    const allowed = await get("/v1/health");
    expect(allowed.status).toBe(200);
    expect(allowed.serial).toBe(serialOf(first.leafPem));
    expect(allowed.protocol).toBe("TLSv1.3");
    expect(allowed.headers["strict-transport-security"]).toBe(HSTS);
    const served = upstream.requests;
    const refused = await get("/v1/orders"); // no rule matches: defaultAction Deny
    expect(refused.status).toBe(404);
    expect(upstream.requests).toBe(served);
    expect(refused.headers["strict-transport-security"]).toBe(HSTS);
  });

  it("refuses TLS 1.2 (the minimum defaults to 1.3 with a public certificate) and plaintext", async () => {
    await expect(get("/v1/health", "TLSv1.2")).rejects.toThrow();
    await expect(httpRequest(listenerPort, "/v1/health")).rejects.toThrow();
  });

  it("rotates when the Secret changes: new handshakes get the new certificate, an open connection keeps serving, the listener is not drained", async () => {
    const open = await openTls({ port: listenerPort, ca: [first.caPem, second.caPem] });
    try {
      const before = await open.request("/v1/health");
      expect(before.status).toBe(200);
      expect(before.peer?.serialNumber).toBe(serialOf(first.leafPem));
      const listenerUpdates = await stat(sidecar, "listener_manager.listener_modified");
      const sdsUpdates = await stat(sidecar, "sds.public-cert/shop/api-tls.update_success");

      await publish(tlsSecret("shop", "api-tls", second));
      const rotated = await waitFor("a new handshake gets the new certificate", async () => {
        const answer = await get("/v1/health").catch(() => undefined);
        return answer?.serial === serialOf(second.leafPem) ? answer : undefined;
      });
      expect(rotated.status).toBe(200);

      // The connection opened before the rotation still serves, with the certificate it was opened with.
      const after = await open.request("/v1/health");
      expect(after.error).toBeUndefined();
      expect(after.status).toBe(200);
      expect(after.peer?.serialNumber).toBe(serialOf(first.leafPem));
      expect(await stat(sidecar, "listener_manager.listener_modified")).toBe(listenerUpdates);
      expect(await stat(sidecar, "sds.public-cert/shop/api-tls.update_success")).toBe(sdsUpdates + 1);
    } finally {
      open.close();
    }
  });

  it("a broken Secret (not kubernetes.io/tls): ResolvedRefs False and every connection is closed, no plaintext either; a good one serves again", async () => {
    await publish(tlsSecret("shop", "api-tls", second, "Opaque"));
    expect(lastTranslation.resolution.policies[0]?.resolvedRefs).toMatchObject({ status: "False", reason: "InvalidSecret" });
    await waitFor("handshakes fail", async () => (await handshake()).startsWith("failed"));
    expect(await handshake()).toMatch(/^failed/);
    await expect(httpRequest(listenerPort, "/v1/health")).rejects.toThrow();
    expect(upstream.requests).toBeGreaterThan(0);
    const served = upstream.requests;
    await expect(get("/v1/health")).rejects.toThrow();
    expect(upstream.requests).toBe(served);

    await publish(tlsSecret("shop", "api-tls", second));
    await waitFor("the sidecar serves again", async () => (await get("/v1/health").catch(() => undefined))?.status === 200);
  });
});
