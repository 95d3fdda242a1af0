import { describe, expect, it } from "vitest";
import type { MinAppVersionIR } from "../../contract/ir.js";
import { checkAppVersion, parseAppVersion } from "./app-version.js";

const config: MinAppVersionIR = {
  header: "x-app-version",
  platformHeader: "x-app-platform",
  minimum: "3.0.0",
  platforms: [
    { platform: "android", minimum: "4.2.1" },
    { platform: "ios", minimum: "4.3.0" },
  ],
};

function outcome(version: string | undefined, platform?: string): string {
  const headers: Record<string, string> = {};
  if (version !== undefined) headers["x-app-version"] = version;
  if (platform !== undefined) headers["x-app-platform"] = platform;
  const d = checkAppVersion(headers, config);
  return d === undefined ? "allowed" : d.allowed ? "allowed" : `${d.status} ${d.reason} ${d.body}`;
}

describe("minimum app version", () => {
  it.each([
    ["4.2.9", "ios", "426 app_version_outdated"],
    ["4.3.0", "ios", "allowed"],
    ["4.10.0", "iOS", "allowed"],
    ["4.2.0", "android", "426 app_version_outdated"],
    ["4.2.1", "android", "allowed"],
    ["10.0.0", "android", "allowed"],
    ["2.9.9", "web", "426 app_version_outdated"],
    ["3.0.0", "web", "allowed"],
    ["3.0.0", undefined, "allowed"],
    ["2.99.99", undefined, "426 app_version_outdated"],
  ])("%s on %s → %s", (version, platform, expected) => {
    expect(outcome(version, platform).startsWith(expected)).toBe(true);
  });

  it("says which version to update to, in JSON", () => {
    expect(outcome("4.0.0", "ios")).toBe('426 app_version_outdated {"error":"app_update_required","minimumVersion":"4.3.0"}');
  });

  it.each(["", "4.3", "4.3.0.1", "v4.3.0", "04.3.0", "4.3.0-beta", "a.b.c", "9999999.0.0"])("refuses the malformed version %j", (v) => {
    expect(outcome(v, "ios")).toMatch(/^426 app_version_(malformed|missing) \{"error":"app_update_required","minimumVersion":"4.3.0"\}$/);
  });

  it("refuses a request without the version header", () => {
    expect(outcome(undefined, "ios")).toMatch(/^426 app_version_missing/);
    expect(parseAppVersion("1.2.3")).toEqual([1, 2, 3]);
  });
});
