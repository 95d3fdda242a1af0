import type { PolicySpec } from "../api/v1alpha1/policy.js";
import type { TelemetryIR } from "../../contract/ir.js";

/** The app-version and platform headers when neither the telemetry block nor mobile.minAppVersion names them. */
export const DEFAULT_TELEMETRY_HEADERS = { appVersion: "x-app-version", platform: "x-app-platform" } as const;

/**
 * spec.telemetry as the IR states it: absent when the policy has none or turns it off. The
 * version and platform headers default to those mobile.minAppVersion reads (one convention per
 * app), else to X-App-Version and X-App-Platform, minAppVersion's own defaults.
 */
export function buildTelemetry(spec: PolicySpec): TelemetryIR | undefined {
  const telemetry = spec.telemetry;
  if (!telemetry?.enabled) return undefined;
  const gate = spec.mobile?.minAppVersion;
  // The device the signals see is the one adaptive blocks look up (the API refuses two different headers).
  const deviceHeader = telemetry.deviceHeader ?? spec.adaptiveResponse?.deviceHeader;
  return {
    ...(deviceHeader ? { deviceHeader: deviceHeader.toLowerCase() } : {}),
    appVersionHeader: (telemetry.appVersionHeader ?? gate?.header ?? DEFAULT_TELEMETRY_HEADERS.appVersion).toLowerCase(),
    platformHeader: (telemetry.platformHeader ?? gate?.platformHeader ?? DEFAULT_TELEMETRY_HEADERS.platform).toLowerCase(),
  };
}
