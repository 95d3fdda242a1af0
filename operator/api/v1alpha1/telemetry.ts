import { z } from "zod";
import { withRules } from "./validation.js";

/**
 * spec.telemetry: every finished request of the policy's sidecars streamed to `bulwark telemetry`
 * (API inventory, abuse signals). The identity headers are logged as they arrive, so a header
 * that carries a credential is refused: telemetry must never hold a token or a cookie.
 */

/** Headers whose values are credentials; never copied into telemetry. */
export const CREDENTIAL_HEADERS = ["authorization", "proxy-authorization", "cookie", "set-cookie", "dpop", "x-api-key"] as const;

const HEADER_NAME = /^[A-Za-z0-9][A-Za-z0-9-]*$/;

/** An HTTP header name (as common.ts's httpHeaderName) that is not a credential header; both rules in one list, so neither replaces the other's CEL. */
function loggableHeader(description: string): z.ZodString {
  const credentials = CREDENTIAL_HEADERS.map((h) => `'${h}'`).join(", ");
  return withRules(z.string().max(64), description, [
    {
      cel: `self.matches(r"${HEADER_NAME.source}")`,
      message: "must be an HTTP header name: letters, digits and '-', at most 64 characters",
      holds: (v) => HEADER_NAME.test(v),
    },
    {
      cel: `!(self.lowerAscii() in [${credentials}])`,
      message: `must not be a header that carries a credential (${CREDENTIAL_HEADERS.join(", ")}): its value would be stored with the telemetry`,
      holds: (v) => !(CREDENTIAL_HEADERS as readonly string[]).includes(v.toLowerCase()),
    },
  ]);
}

export const telemetry = z
  .object({
    enabled: z.boolean().default(true).describe("Stream every finished request to bulwark telemetry; false keeps the settings but stops the stream."),
    deviceHeader: loggableHeader(
      "Request header with the app's device identifier (for example X-Device-Id), logged as the entry's device; absent: adaptiveResponse.deviceHeader, else no device.",
    ).optional(),
    appVersionHeader: loggableHeader("Request header with the app's version; default: mobile.minAppVersion.header when the policy sets it, else X-App-Version.").optional(),
    platformHeader: loggableHeader(
      "Request header naming the app's platform; default: mobile.minAppVersion.platformHeader when the policy sets it, else X-App-Platform.",
    ).optional(),
  })
  .strict()
  .meta({
    description:
      "Stream each finished request (route, method, path, status, refusal reason, subject, device, app version, client address, latency, bytes) from the sidecars to bulwark telemetry, off the request path: the sidecar buffers entries and sends them about once a second. Needs the controller's --telemetry-address.",
  });

export type Telemetry = z.output<typeof telemetry>;
