import { describe, expect, it } from "vitest";
import { policySpec } from "../api/v1alpha1/policy.js";
import { buildTelemetry } from "./build-telemetry.js";

function spec(extra: Record<string, unknown>): ReturnType<typeof policySpec.parse> {
  return policySpec.parse({ targetRefs: [{ kind: "Service", name: "shop" }], rules: [{ name: "all", match: { pathPrefix: "/" }, authentication: "None" }], ...extra });
}

describe("spec.telemetry in the IR", () => {
  it("is absent without the block or when it is turned off", () => {
    expect(buildTelemetry(spec({}))).toBeUndefined();
    expect(buildTelemetry(spec({ telemetry: { enabled: false, deviceHeader: "X-Device-Id" } }))).toBeUndefined();
  });

  it("defaults the version and platform headers to X-App-Version and X-App-Platform, lower-case, with no device", () => {
    expect(buildTelemetry(spec({ telemetry: {} }))).toEqual({ appVersionHeader: "x-app-version", platformHeader: "x-app-platform" });
  });

  it("reads the headers minAppVersion reads when the block names none, and its own names first", () => {
    const mobile = { minAppVersion: { header: "X-Client-Version", platformHeader: "X-Client-OS", minimum: "4.2.0" } };
    expect(buildTelemetry(spec({ mobile, telemetry: { deviceHeader: "X-Device-Id" } }))).toEqual({
      deviceHeader: "x-device-id",
      appVersionHeader: "x-client-version",
      platformHeader: "x-client-os",
    });
    expect(buildTelemetry(spec({ mobile, telemetry: { appVersionHeader: "X-Build", platformHeader: "X-OS" } }))).toEqual({ appVersionHeader: "x-build", platformHeader: "x-os" });
  });
});
