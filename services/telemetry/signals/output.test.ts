import { Writable } from "node:stream";
import { pino } from "pino";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import type { SignalEvent } from "../../../contract/telemetry.js";
import { SignalMetrics, logSignal, signalKubernetesEvent, signalLogRecord } from "./output.js";

const event: SignalEvent = {
  kind: "CredentialStuffing",
  workload: "apisecuritypolicy/shop/shop-api/port/8080",
  policy: { namespace: "shop", name: "shop-api" },
  identity: { kind: "ClientAddress", value: "203.0.113.7" },
  value: 20,
  threshold: 20,
  message: "20 in 300 s failed logins from ClientAddress 203.0.113.7 (100% of 20 login attempts failed)",
  timeMs: Date.UTC(2026, 11, 3, 10, 0, 1, 500),
};

describe("signal outputs", () => {
  it("count firings by kind and policy, and report the tables' sizes", async () => {
    const registry = new Registry();
    const metrics = new SignalMetrics(registry, () => ({ CredentialStuffing: { callers: 12 } }));
    metrics.record(event);
    metrics.record(event);
    const text = await registry.metrics();
    expect(text).toContain('bulwark_signals_fired_total{kind="CredentialStuffing",namespace="shop",policy="shop-api"} 2');
    expect(text).toContain('bulwark_signals_tracked{kind="CredentialStuffing",table="callers"} 12');
  });

  it("write one JSON line per signal with stable field names", () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk: Buffer, _enc, done) => void (lines.push(chunk.toString()), done()) });
    logSignal(pino({ base: undefined, timestamp: false }, sink), event);
    expect(JSON.parse(lines[0]!)).toEqual({
      level: 40,
      event: "bulwark_abuse_signal",
      signal: "CredentialStuffing",
      workload: event.workload,
      policy_namespace: "shop",
      policy_name: "shop-api",
      identity_kind: "ClientAddress",
      identity_value: "203.0.113.7",
      value: 20,
      threshold: 20,
      signal_time: "2026-12-03T10:00:01.500Z",
      msg: event.message,
    });
    const { identity: _identity, ...workloadWide } = event;
    expect(Object.keys(signalLogRecord({ ...workloadWide, kind: "FailedAuthSpike" }))).not.toContain("identity_kind");
  });

  it("make a Warning Event on the policy, its note within 1 KiB", () => {
    expect(signalKubernetesEvent(event)).toEqual({
      type: "Warning",
      reason: "CredentialStuffing",
      action: "Detected",
      note: `${event.message} (value 20, threshold 20, workload ${event.workload})`,
    });
    expect(signalKubernetesEvent({ ...event, message: "x".repeat(5000) }).note).toHaveLength(1024);
  });
});
