import type { JsonObject } from "../json.js";
import type { RouteChecksIR, RouteIR, WorkloadIR } from "../../contract/ir.js";

/** Where a sidecar fetches everything it does not carry: the controller's ADS stream. */
export function adsConfigSource(): JsonObject {
  return { ads: {}, resource_api_version: "V3" };
}

/** A proto3-JSON Duration from whole milliseconds: 1500 → "1.500s", 2000 → "2s". */
export function durationFromMs(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms < 0) throw new Error(`duration must be a non-negative whole number of milliseconds, got ${ms}`);
  const seconds = Math.floor(ms / 1000);
  const millis = ms % 1000;
  return millis === 0 ? `${seconds}s` : `${seconds}.${String(millis).padStart(3, "0")}s`;
}

export function durationFromSeconds(seconds: number): string {
  return durationFromMs(seconds * 1000);
}

export function socketAddress(address: string, port: number): JsonObject {
  return { socket_address: { address, port_value: port } };
}

/** A response or request header that replaces any value already there; `value` may hold Envoy formatter commands (%...%). */
export function overwriteHeader(name: string, value: string): JsonObject {
  return { header: { key: name, value }, append_action: "OVERWRITE_IF_EXISTS_OR_ADD" };
}

/**
 * The same with `value` sent as written: Envoy reads `%` in a header value as the start of a
 * formatter command (%REQ(...)% would copy a request header into it), so each `%` is escaped
 * as `%%`. For every value that comes from a policy.
 */
export function overwriteHeaderLiteral(name: string, value: string): JsonObject {
  return overwriteHeader(name, value.replaceAll("%", "%%"));
}

export function percent(numerator: number): JsonObject {
  return { numerator, denominator: "HUNDRED" };
}

/** `text` as an RE2 literal. */
export function escapeRegex(text: string): string {
  return text.replace(/[\\^$.|?*+()[\]{}]/g, (c) => `\\${c}`);
}

/** The checks of a route that forwards to the app; undefined for a direct response. */
export function forwardChecks(route: RouteIR): RouteChecksIR | undefined {
  return route.action.kind === "forward" ? route.action.checks : undefined;
}

/** Every forwarding route's checks, in route order. */
export function allForwardChecks(workload: WorkloadIR): RouteChecksIR[] {
  return workload.routes.flatMap((route) => (route.action.kind === "forward" ? [route.action.checks] : []));
}
