import { describe, expect, it } from "vitest";
import { decodeStreamAccessLogs } from "../ratelimit/codec.js";
import { accessLogMessage, sampleEntry, type SampleRequest } from "../../test/support/telemetry-messages.js";
import { FIELD_LIMITS, telemetryEntryOf, workloadOfLogName } from "./entry.js";

/** The entry as the receiver reads it: encoded by protobufjs with the Envoy protos, decoded by the service's codec. */
function roundTrip(request: SampleRequest): ReturnType<typeof telemetryEntryOf> {
  const message = decodeStreamAccessLogs(accessLogMessage({ entries: [sampleEntry(request)] }));
  const entry = message.http_logs?.log_entry?.[0];
  if (!entry) throw new Error("no entry decoded");
  return telemetryEntryOf("apisecuritypolicy/shop/shop-api/ports/15006-8080", entry);
}

describe("a sidecar's access-log entry as telemetry", () => {
  it("reads route, method, path without query, status, subject, identity tags, address, times and bytes", () => {
    expect(
      roundTrip({ subject: "user-17", claims: { scope: "orders:read" }, device: "dev-1", appVersion: "4.3.1", platform: "ios", startMs: 1_796_000_000_123, latencyMs: 3.25 }),
    ).toEqual({
      workload: "apisecuritypolicy/shop/shop-api/ports/15006-8080",
      route: "apisecuritypolicy/shop/shop-api/rule/orders",
      method: "GET",
      path: "/v1/orders/42",
      status: 200,
      authenticated: true,
      subject: "user-17",
      device: "dev-1",
      appVersion: "4.3.1",
      platform: "ios",
      clientAddress: "203.0.113.7",
      timeMs: 1_796_000_000_123,
      latencyMs: 3.25,
      requestBytes: 412,
      responseBytes: 465,
    });
  });

  it("gives the reason header first, else Envoy's response code details unless the app answered", () => {
    expect(roundTrip({ status: 403, details: "ext_authz_denied", reason: "dpop_replayed" }).reason).toBe("dpop_replayed");
    expect(roundTrip({ status: 401, details: "jwt_authn_access_denied{Jwt_is_missing}" }).reason).toBe("jwt_authn_access_denied{Jwt_is_missing}");
    expect(roundTrip({ status: 404, details: "direct_response", route: "apisecuritypolicy/shop/shop-api/default" }).reason).toBe("direct_response");
    expect(roundTrip({ status: 500 })).not.toHaveProperty("reason");
    const anonymous = roundTrip({});
    expect(anonymous.authenticated).toBe(false);
    expect(anonymous).not.toHaveProperty("subject");
    expect(anonymous).not.toHaveProperty("device");
  });

  it("cuts absurd field lengths to the stated limits", () => {
    const huge = "a".repeat(100_000);
    const entry = roundTrip({ path: `/${huge}?q=1`, subject: huge, device: huge, reason: huge, route: huge, clientAddress: huge });
    expect(entry.path).toHaveLength(FIELD_LIMITS.path);
    expect(entry.subject).toHaveLength(FIELD_LIMITS.subject);
    expect(entry.device).toHaveLength(FIELD_LIMITS.header);
    expect(entry.reason).toHaveLength(FIELD_LIMITS.reason);
    expect(entry.route).toHaveLength(FIELD_LIMITS.route);
    expect(entry.clientAddress).toHaveLength(FIELD_LIMITS.clientAddress);
  });

  it("takes the workload from a telemetry log name only", () => {
    expect(workloadOfLogName("bulwark-telemetry/apisecuritypolicy/shop/a/ports/1-2")).toBe("apisecuritypolicy/shop/a/ports/1-2");
    expect(workloadOfLogName("bulwark-outcomes")).toBeUndefined();
    expect(workloadOfLogName("bulwark-telemetry/")).toBeUndefined();
    expect(workloadOfLogName(undefined)).toBeUndefined();
  });
});
