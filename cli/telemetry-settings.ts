import { readFile } from "node:fs/promises";
import type { Logger } from "pino";
import type { ServiceAddress, TelemetrySettings } from "../contract/ir.js";
import { TelemetryToken } from "../contract/telemetry.js";
import { errorMessage } from "../common/errors.js";
import { UsageError } from "./usage.js";

/**
 * The controller's telemetry settings: where sidecars stream (--telemetry-address) and, with
 * --telemetry-ca-file, over TLS with the token the injector mounts in every proxy
 * (TelemetryToken), which bulwark telemetry with --cluster requires.
 */
export async function telemetrySettings(options: { address: ServiceAddress | undefined; caFile: string; serverName: string; log: Logger }): Promise<TelemetrySettings | undefined> {
  const { address, caFile, serverName } = options;
  if (!address) {
    if (caFile || serverName) throw new UsageError("--telemetry-ca-file and --telemetry-server-name need --telemetry-address");
    return undefined;
  }
  if (!caFile) {
    if (serverName) throw new UsageError("--telemetry-server-name needs --telemetry-ca-file");
    options.log.warn(
      "sidecars stream telemetry in plaintext and without a token (no --telemetry-ca-file): only a bulwark telemetry without --cluster accepts them, and it believes every stream",
    );
    return address;
  }
  let caPem: string;
  try {
    caPem = await readFile(caFile, "utf8");
  } catch (error) {
    throw new UsageError(`--telemetry-ca-file ${caFile} cannot be read: ${errorMessage(error)}`);
  }
  if (!caPem.includes("-----BEGIN CERTIFICATE-----")) throw new UsageError(`--telemetry-ca-file ${caFile} holds no PEM certificate`);
  return { ...address, tls: { caPem, ...(serverName ? { serverName } : {}) }, tokenFile: `${TelemetryToken.directory}/${TelemetryToken.file}` };
}
