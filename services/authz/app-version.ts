import type { MinAppVersionIR } from "../../contract/ir.js";
import { refuse, type Decision } from "./decision.js";

type Version = readonly [number, number, number];

const VERSION = /^(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})$/;

/** MAJOR.MINOR.PATCH, numbers without leading zeros (the API's format); undefined otherwise. */
export function parseAppVersion(value: string): Version | undefined {
  const m = VERSION.exec(value.trim());
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

export function compareVersions(a: Version, b: Version): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

/** The minimum for the platform the request names (case-insensitive), else the default minimum. */
export function minimumFor(config: MinAppVersionIR, platform: string | undefined): string {
  const p = platform?.trim().toLowerCase();
  return config.platforms.find((entry) => entry.platform === p)?.minimum ?? config.minimum;
}

/** 426 Upgrade Required with a JSON body telling the app to update; a missing or malformed version is refused the same way. */
export function checkAppVersion(headers: Readonly<Record<string, string>>, config: MinAppVersionIR): Decision | undefined {
  const minimum = minimumFor(config, headers[config.platformHeader]);
  const body = { error: "app_update_required", minimumVersion: minimum };
  const raw = headers[config.header];
  if (raw === undefined || raw === "") return refuse(426, "app_version_missing", { body });
  const version = parseAppVersion(raw);
  const floor = parseAppVersion(minimum);
  if (!version || !floor) return refuse(426, "app_version_malformed", { body });
  return compareVersions(version, floor) < 0 ? refuse(426, "app_version_outdated", { body }) : undefined;
}
