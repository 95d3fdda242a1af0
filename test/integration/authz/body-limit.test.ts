import { createServer, type Server } from "node:http";
import { connect, createServer as createTcpServer, type Server as TcpServer, type Socket } from "node:net";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { standaloneBootstrap } from "../../../envoy/bootstrap/standalone-bootstrap.js";
import { RouteTableHolder, buildRouteTable } from "../../../services/authz/config.js";
import { DpopNonces } from "../../../services/authz/dpop-nonce.js";
import { KeySets } from "../../../services/authz/keys.js";
import { MemoryReplayStore } from "../../../services/authz/replay-store.js";
import { AuthzServer } from "../../../services/authz/service.js";
import type { TranslationSettings } from "../../../contract/ir.js";
import { render } from "../../../operator/translate/render.js";
import { freePort } from "../../env/processes.js";
import { TestIssuer } from "../../support/authz-client.js";
import { ATTESTER, authzPolicyInput, ISSUER } from "../../support/authz-policy.js";
import { startEnvoy, type EnvoyProcess } from "../../support/envoy-process.js";

const LIMIT = 1024;
/** How long every byte towards bulwark authz is held: the check is in flight that long at least. */
const AUTHZ_LATENCY_MS = 400;
/** When the body follows the headers: while the check is in flight. */
const BODY_AFTER_MS = 100;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The status line's code of a raw HTTP/1.1 exchange: `head` first, `body` BODY_AFTER_MS later. */
function exchange(port: number, head: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let reply = "";
    socket.on("data", (chunk: Buffer) => {
      reply += chunk.toString("latin1");
      const m = /^HTTP\/1\.1 (\d{3}) /.exec(reply);
      if (m) {
        socket.destroy();
        resolve(Number(m[1]));
      }
    });
    socket.on("error", reject);
    socket.on("close", () => resolve(0));
    socket.write(head, () => {
      void sleep(BODY_AFTER_MS).then(() => socket.write(body));
    });
  });
}

/**
 * A TCP relay to bulwark authz that holds every chunk towards it for AUTHZ_LATENCY_MS: a slow
 * network to a real authz, so a body can arrive while the sidecar waits for the decision.
 */
async function slowRelay(target: number): Promise<{ port: number; server: TcpServer; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const server = createTcpServer((client) => {
    const upstream = connect(target, "127.0.0.1");
    sockets.push(client, upstream);
    client.on("data", (chunk: Buffer) => void sleep(AUTHZ_LATENCY_MS).then(() => upstream.write(chunk)));
    upstream.on("data", (chunk: Buffer) => client.write(chunk));
    for (const s of [client, upstream]) s.on("error", () => undefined);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (!address || typeof address !== "object") throw new Error("no port");
  return { port: address.port, server, sockets };
}

/**
 * maxRequestBytes through a real Envoy whatever the timing: the body arrives while a slow
 * bulwark authz is deciding (the minimum app version, checked on every route of this policy),
 * with Content-Length and chunked. The limit is held before any filter can pause the request.
 */
describe("request body limits while bulwark authz is in flight, through real Envoy", () => {
  let app: Server;
  /** Bytes of body of each request the app received. */
  const received: number[] = [];
  let authz: AuthzServer;
  let relay: Awaited<ReturnType<typeof slowRelay>>;
  let envoy: EnvoyProcess;
  let listener: number;

  beforeAll(async () => {
    app = createServer((req, res) => {
      let bytes = 0;
      req.on("data", (chunk: Buffer) => (bytes += chunk.length));
      req.on("end", () => {
        received.push(bytes);
        res.end("ok");
      });
    });
    await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", resolve));
    const appAddress = app.address();
    if (!appAddress || typeof appAddress !== "object") throw new Error("the app has no port");

    const [idp, attester] = await Promise.all([TestIssuer.create(ISSUER), TestIssuer.create(ATTESTER)]);
    listener = await freePort();
    const input = authzPolicyInput({ idpJwks: idp.jwks, attestJwks: attester.jwks, ports: { sidecar: listener, app: appAddress.port } });
    const spec = (input.policies[0] as { spec: { rules: { name: string; maxRequestBytes?: number }[] } }).spec;
    const health = spec.rules.find((r) => r.name === "health");
    if (!health) throw new Error("no health rule");
    health.maxRequestBytes = LIMIT;

    const tables = new RouteTableHolder();
    tables.swap(buildRouteTable(render(input).ir));
    authz = new AuthzServer({
      host: "127.0.0.1",
      port: 0,
      tables,
      deps: { now: Date.now, replay: new MemoryReplayStore(), nonces: new DpopNonces({ secret: "the-body-limit-nonce-secret" }), keys: new KeySets().keys },
      log: pino({ level: "silent" }),
    });
    relay = await slowRelay(await authz.start());
    const settings: TranslationSettings = {
      authz: { host: "127.0.0.1", port: relay.port, timeoutMs: 5000 },
      ratelimit: { host: "127.0.0.1", port: 1, timeoutMs: 100 },
      rateLimitDomain: "bulwark",
    };
    const rendered = render(input, settings);
    const workload = rendered.workloads[0];
    if (!workload) throw new Error("no workload rendered");
    envoy = await startEnvoy(standaloneBootstrap(workload.resources), "envoy-body-limit");
  });

  afterAll(async () => {
    await envoy?.stop();
    for (const s of relay?.sockets ?? []) s.destroy();
    await new Promise((resolve) => relay?.server.close(resolve));
    await authz?.stop(100);
    await new Promise((resolve) => app?.close(resolve));
  });

  const head = (framing: string): string => `POST /health HTTP/1.1\r\nhost: shop.test\r\nx-app-version: 4.3.0\r\nx-app-platform: ios\r\n${framing}\r\nconnection: close\r\n\r\n`;
  const chunked = (bytes: number): string => `${bytes.toString(16)}\r\n${"x".repeat(bytes)}\r\n0\r\n\r\n`;

  it("passes a body within the limit that arrives during the check", async () => {
    expect(await exchange(listener, head("content-length: 100"), "x".repeat(100))).toBe(200);
    expect(await exchange(listener, head("transfer-encoding: chunked"), chunked(100))).toBe(200);
    expect(received).toEqual([100, 100]);
  });

  it("refuses with 413 a Content-Length body over the limit that arrives during the check; the app never sees it", async () => {
    const before = received.length;
    expect(await exchange(listener, head(`content-length: ${LIMIT * 4}`), "x".repeat(LIMIT * 4))).toBe(413);
    await sleep(AUTHZ_LATENCY_MS * 2);
    expect(received.length).toBe(before);
  });

  it("refuses with 413 a chunked body over the limit that arrives during the check; the app never sees it", async () => {
    const before = received.length;
    expect(await exchange(listener, head("transfer-encoding: chunked"), chunked(LIMIT * 4))).toBe(413);
    await sleep(AUTHZ_LATENCY_MS * 2);
    expect(received.length).toBe(before);
  });
});
