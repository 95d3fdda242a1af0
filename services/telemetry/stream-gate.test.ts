import { Writable } from "node:stream";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import type { TelemetryEntry } from "../../contract/telemetry.js";
import type { Authentication, StreamAuthenticator } from "../../envoy/xds/stream-auth.js";
import { generateServingMaterial } from "../../operator/identity/serving-certificate.js";
import { accessLogMessage, sampleEntry } from "../../test/support/telemetry-messages.js";
import { streamAccessLogs } from "../../test/support/telemetry-stream-client.js";
import { startTelemetryService, type TelemetryService } from "./service.js";

const SHOP_POD: Authentication = { ok: true, identity: { namespace: "shop", serviceAccount: "shop-api", pod: "shop-1" } };
const WORKLOAD = "apisecuritypolicy/shop/shop-api/ports/15006-8080";

/** Tokens → what the API server would say, answered after `delayMs` (a review takes a while). */
function authenticator(answers: Record<string, Authentication>, delayMs = 20): StreamAuthenticator & { asked: number } {
  return {
    asked: 0,
    authenticate(token: string): Promise<Authentication> {
      this.asked++;
      const answer = answers[token] ?? { ok: false, reason: "invalid_token", message: "the API server refused the token" };
      return new Promise((resolve) => setTimeout(() => resolve(answer), delayMs));
    },
  };
}

const messages = (options: { node?: string; logName?: string } = {}): Uint8Array[] => [
  accessLogMessage({ logName: options.logName ?? `bulwark-telemetry/${WORKLOAD}`, node: options.node ?? "shop-1.shop", entries: [sampleEntry({ status: 200 })] }),
  accessLogMessage({ entries: [sampleEntry({ status: 403, clientAddress: "203.0.113.7" })] }),
];

let service: TelemetryService | undefined;
afterEach(async () => {
  await service?.stop();
  service = undefined;
});

async function start(
  auth: StreamAuthenticator | undefined,
  tls?: { certPem: string; keyPem: string },
): Promise<{ got: TelemetryEntry[]; lines: string[]; metrics: () => Promise<string> }> {
  const lines: string[] = [];
  const log = pino({ level: "info" }, new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(chunk.toString()), done()) }));
  const got: TelemetryEntry[] = [];
  service = await startTelemetryService(
    { listen: { host: "127.0.0.1", port: 0 }, metrics: { host: "127.0.0.1", port: 0 }, log, ...(auth ? { authentication: { authenticator: auth } } : {}), ...(tls ? { tls } : {}) },
    [(e) => got.push(...e)],
  );
  const port = service.httpPort;
  return { got, lines, metrics: async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text() };
}

describe("the telemetry receiver authenticates every stream and binds it to the token's pod", () => {
  it("delivers the entries of a stream whose token is a pod's, declaring that pod and a workload of its namespace", async () => {
    const auth = authenticator({ good: SHOP_POD });
    const { got, metrics } = await start(auth);
    const result = await streamAccessLogs({ port: service!.grpcPort, messages: messages(), token: "good" });
    expect(result.status).toBe("0");
    expect(got.map((e) => [e.workload, e.sidecar, e.status])).toEqual([
      [WORKLOAD, "shop-1.shop", 200],
      [WORKLOAD, "shop-1.shop", 403],
    ]);
    expect(await metrics()).not.toContain("bulwark_telemetry_rejected_streams_total{");
  });

  it.each([
    ["no token", undefined, {}, "16", "no_token"],
    ["a token the API server refuses", "forged", {}, "16", "invalid_token"],
    ["a token of another audience", "xds", {}, "16", "wrong_audience"],
    ["a token not bound to a pod", "unbound", {}, "16", "not_pod_token"],
    ["TokenReview unavailable", "later", {}, "14", "unavailable"],
    ["another pod's node id", "good", { node: "shop-2.shop" }, "7", "node_mismatch"],
    ["no node id", "good", { node: "" }, "7", "node_mismatch"],
    ["a workload in another namespace", "good", { logName: "bulwark-telemetry/apisecuritypolicy/bank/bank-api/ports/15006-8080" }, "7", "namespace_mismatch"],
    ["a log name naming no policy workload", "good", { logName: "bulwark-telemetry/passthrough/shop/ports/1-2" }, "7", "namespace_mismatch"],
  ] as const)("refuses %s: nothing reaches a sink, counted, logged without the token", async (_what, token, claims, status, reason) => {
    const auth = authenticator({
      good: SHOP_POD,
      xds: { ok: false, reason: "wrong_audience", message: "the token is not for the audience bulwark.dev/telemetry" },
      unbound: { ok: false, reason: "not_pod_token", message: "the token of ServiceAccount shop/x is not bound to a pod" },
      later: { ok: false, reason: "unavailable", message: "TokenReview failed: connect ECONNREFUSED" },
    });
    const { got, lines, metrics } = await start(auth);
    const result = await streamAccessLogs({ port: service!.grpcPort, messages: messages(claims), ...(token ? { token } : {}) });
    expect(result.status).toBe(status);
    expect(got).toEqual([]);
    expect(await metrics()).toContain(`bulwark_telemetry_rejected_streams_total{reason="${reason}"} 1`);
    const refusals = lines.filter((l) => l.includes("refused a telemetry stream"));
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toContain(`"reason":"${reason}"`);
    if (token) expect(lines.join("")).not.toContain(`Bearer ${token}`);
    expect(await metrics()).toContain("bulwark_telemetry_streams 0");
  });

  it("refuses a stream whose token cannot be checked in time (an API server that hangs): unavailable, nothing delivered", async () => {
    const hanging: StreamAuthenticator = { authenticate: () => new Promise(() => undefined) };
    const lines: string[] = [];
    const log = pino({ level: "info" }, new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(chunk.toString()), done()) }));
    const got: TelemetryEntry[] = [];
    service = await startTelemetryService({ listen: { host: "127.0.0.1", port: 0 }, log, authentication: { authenticator: hanging, timeoutMs: 200 } }, [(e) => got.push(...e)]);
    const result = await streamAccessLogs({ port: service.grpcPort, messages: messages(), token: "good" });
    expect(result).toEqual({ status: "14", message: "the token could not be checked within 200 ms" });
    expect(got).toEqual([]);
    expect(lines.some((l) => l.includes('"reason":"unavailable"'))).toBe(true);
  });

  it("holds messages that arrive while the token is checked, and a stream ended before the answer still delivers them", async () => {
    const auth = authenticator({ good: SHOP_POD }, 300);
    const { got } = await start(auth);
    const result = await streamAccessLogs({ port: service!.grpcPort, messages: messages(), token: "good" });
    expect(result.status).toBe("0");
    expect(got).toHaveLength(2);
    expect(auth.asked).toBe(1);
  });

  it("serves over TLS: a client that trusts the CA streams; a plaintext client is refused and counted", async () => {
    const material = await generateServingMaterial("telemetry test CA", ["bulwark-telemetry.bulwark-system.svc"], new Date());
    const { got, metrics } = await start(authenticator({ good: SHOP_POD }), material);
    const result = await streamAccessLogs({
      port: service!.grpcPort,
      messages: messages(),
      token: "good",
      tls: { caPem: material.caPem, serverName: "bulwark-telemetry.bulwark-system.svc" },
    });
    expect(result.status).toBe("0");
    expect(got).toHaveLength(2);
    const plaintext = await streamAccessLogs({ port: service!.grpcPort, messages: messages(), token: "good" });
    expect(plaintext.status).toBeUndefined();
    expect(got).toHaveLength(2);
    expect(await metrics()).toContain('bulwark_telemetry_rejected_streams_total{reason="tls"} 1');
  });

  it("without authentication (tests, bulwark telemetry without --cluster) believes every stream", async () => {
    const { got } = await start(undefined);
    const result = await streamAccessLogs({
      port: service!.grpcPort,
      messages: messages({ node: "anyone.anywhere", logName: "bulwark-telemetry/apisecuritypolicy/bank/b/ports/1-2" }),
    });
    expect(result.status).toBe("0");
    expect(got.map((e) => e.sidecar)).toEqual(["anyone.anywhere", "anyone.anywhere"]);
  });
});
