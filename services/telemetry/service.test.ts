import { connect } from "node:http2";
import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { TelemetryEntry } from "../../contract/telemetry.js";
import { frameMessage } from "../grpc/framing.js";
import { accessLogMessage, sampleEntry } from "../../test/support/telemetry-messages.js";
import { startTelemetryService } from "./service.js";
import { waitFor } from "../../test/support/poll.js";
import { openAccessLogCall } from "../../test/support/telemetry-stream-client.js";

/** One StreamAccessLogs call with `messages`, ended by the client; resolves with the grpc-status. */
function stream(port: number, messages: Uint8Array[]): Promise<string | undefined> {
  const session = connect(`http://127.0.0.1:${port}`);
  session.on("error", () => undefined);
  return new Promise((resolve) => {
    const call = openAccessLogCall(session);
    let status: string | undefined;
    call.on("response", (h: Record<string, unknown>) => (status ??= h["grpc-status"] as string | undefined));
    call.on("trailers", (t: Record<string, unknown>) => (status = t["grpc-status"] as string | undefined));
    call.on("close", () => {
      session.close();
      resolve(status);
    });
    for (const m of messages) call.write(frameMessage(m));
    call.end();
  });
}

describe("bulwark telemetry as a library", () => {
  it("feeds the given sinks, counts entries, streams and response classes, and logs each entry when asked", async () => {
    const lines: string[] = [];
    const log = pino({ level: "info" }, new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(chunk.toString()), done()) }));
    const got: TelemetryEntry[] = [];
    const service = await startTelemetryService({ listen: { host: "127.0.0.1", port: 0 }, metrics: { host: "127.0.0.1", port: 0 }, log, logEntries: true }, [
      (e) => got.push(...e),
    ]);
    try {
      const first = accessLogMessage({
        logName: "bulwark-telemetry/apisecuritypolicy/shop/a/ports/1-2",
        node: "a-0.shop",
        entries: [sampleEntry({ status: 200 }), sampleEntry({ status: 404 })],
      });
      const second = accessLogMessage({ entries: [sampleEntry({ status: 429, path: "/v1/search" })] });
      expect(await stream(service.grpcPort, [first, second])).toBe("0");
      expect(got.map((e) => [e.workload, e.sidecar, e.status])).toEqual([
        ["apisecuritypolicy/shop/a/ports/1-2", "a-0.shop", 200],
        ["apisecuritypolicy/shop/a/ports/1-2", "a-0.shop", 404],
        ["apisecuritypolicy/shop/a/ports/1-2", "a-0.shop", 429],
      ]);
      const metrics = await waitFor("the metrics", async () => (await fetch(`http://127.0.0.1:${service.httpPort}/metrics`)).text());
      expect(metrics).toContain("bulwark_telemetry_entries_total 3");
      expect(metrics).toContain("bulwark_telemetry_streams_total 1");
      expect(metrics).toContain("bulwark_telemetry_streams 0");
      expect(metrics).toContain('bulwark_telemetry_responses_total{class="4xx"} 2');
      expect(lines.filter((l) => l.includes('"msg":"telemetry entry"'))).toHaveLength(3);
    } finally {
      await service.stop();
    }
  });
});
