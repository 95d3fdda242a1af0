import { createServer, request, type Server } from "node:http";
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { standaloneBootstrap } from "../../../envoy/bootstrap/standalone-bootstrap.js";
import type { TranslationSettings } from "../../../contract/ir.js";
import { render } from "../../../operator/translate/render.js";
import { freePort } from "../../env/processes.js";
import { DpopKey, TestIssuer } from "../../support/authz-client.js";
import { ATTESTER, AUDIENCE, authzPolicyInput, ISSUER } from "../../support/authz-policy.js";
import { startEnvoy, type EnvoyProcess } from "../../support/envoy-process.js";

const HOST = "shop.test";
/** The controller's --authz-timeout-ms here: far from the rule's own, so the two cannot be confused. */
const DEFAULT_TIMEOUT_MS = 3000;
const RULE_TIMEOUT_MS = 100;

function timed(port: number, method: string, path: string, headers: Record<string, string>): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method, path, headers: { host: HOST, ...headers } }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started }));
    });
    req.on("error", reject);
    req.end();
  });
}

/**
 * Per-rule authz timeouts through a real Envoy: bulwark authz's address is a socket that accepts
 * connections and never answers, so every check ends in the sidecar's timeout — the rule's own
 * (authzTimeoutMs) or the controller's — and is refused with 503; the app never sees it.
 */
describe("authz timeouts per rule, through real Envoy", () => {
  let app: Server;
  let appHits = 0;
  let blackHole: TcpServer;
  const sockets: Socket[] = [];
  let envoy: EnvoyProcess;
  let listener: number;
  let token: string;

  beforeAll(async () => {
    const idp = await TestIssuer.create(ISSUER);
    const attester = await TestIssuer.create(ATTESTER);
    const phone = await DpopKey.generate("ES256");
    token = await idp.sign({ sub: "alice", cnf: { jkt: phone.jkt } }, { audience: AUDIENCE });
    app = createServer((_req, res) => {
      appHits += 1;
      res.end("ok");
    });
    await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", resolve));
    const appAddress = app.address();
    if (!appAddress || typeof appAddress !== "object") throw new Error("the app has no port");
    blackHole = createTcpServer((socket) => {
      sockets.push(socket);
      socket.on("error", () => undefined);
    });
    await new Promise<void>((resolve) => blackHole.listen(0, "127.0.0.1", resolve));
    const holeAddress = blackHole.address();
    if (!holeAddress || typeof holeAddress !== "object") throw new Error("no port");

    listener = await freePort();
    const input = authzPolicyInput({ idpJwks: idp.jwks, attestJwks: attester.jwks, ports: { sidecar: listener, app: appAddress.port } });
    const spec = (input.policies[0] as { spec: { rules: { name: string; authzTimeoutMs?: number }[] } }).spec;
    const orders = spec.rules.find((r) => r.name === "orders");
    if (!orders) throw new Error("no orders rule");
    orders.authzTimeoutMs = RULE_TIMEOUT_MS;
    const settings: TranslationSettings = {
      authz: { host: "127.0.0.1", port: holeAddress.port, timeoutMs: DEFAULT_TIMEOUT_MS },
      ratelimit: { host: "127.0.0.1", port: 1, timeoutMs: 100 },
      rateLimitDomain: "bulwark",
    };
    const rendered = render(input, settings);
    expect(rendered.resolution.policies[0]?.accepted.status).toBe("True");
    const workload = rendered.workloads[0];
    if (!workload) throw new Error("no workload rendered");
    envoy = await startEnvoy(standaloneBootstrap(workload.resources), "envoy-authz-timeouts");
  });

  afterAll(async () => {
    await envoy?.stop();
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => blackHole?.close(resolve));
    await new Promise((resolve) => app?.close(resolve));
  });

  it("refuses with 503 after the rule's own timeout, and after the default one on a rule without it; the app sees neither", async () => {
    const headers = { authorization: `DPoP ${token}`, "x-app-version": "4.3.0", "x-app-platform": "ios" };
    const fast = await timed(listener, "GET", "/v1/users/alice/orders", headers);
    const slow = await timed(listener, "POST", "/v1/checkout", headers);
    expect(fast.status).toBe(503);
    expect(slow.status).toBe(503);
    // Wide margins: the rule's 100 ms against the default 3 s.
    expect(fast.ms).toBeLessThan(DEFAULT_TIMEOUT_MS / 2);
    expect(slow.ms).toBeGreaterThanOrEqual(DEFAULT_TIMEOUT_MS * 0.9);
    expect(appHits).toBe(0);
  });
});
