import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { TranslationSettings } from "../../contract/ir.js";
import type { TranslationInput } from "../resolve/objects.js";
import { defaultSettings } from "./render.js";
import { TelemetryToken } from "../../contract/telemetry.js";

/** testdata/translate/<case>.in.yaml → <case>.out/: the golden cases of the whole translation. */
export const goldenDir = join(dirname(fileURLToPath(import.meta.url)), "..", "testdata", "translate");

/** Goldens are translated at this instant (deprecation windows depend on it). */
export const goldenNow = "2026-11-25T12:00:00Z";

/**
 * What OpenID Connect Discovery found, for goldens and rendered examples (the controller fetches
 * it; an offline render cannot): one issuer discovered, one whose discovery failed.
 */
export const goldenDiscovery: NonNullable<TranslationInput["oidcDiscovery"]> = {
  "https://login.example.com/realms/shop": { jwksUri: "https://login.example.com/realms/shop/protocol/openid-connect/certs" },
  "https://accounts.partner.example": { error: "GET https://accounts.partner.example/.well-known/openid-configuration answered 503" },
};

export function goldenCases(): string[] {
  return readdirSync(goldenDir)
    .filter((f) => f.endsWith(".in.yaml"))
    .map((f) => f.slice(0, -".in.yaml".length))
    .sort();
}

/**
 * Cases named `mesh-*` are rendered with mesh identity enabled (the egress proxy and its
 * clusters); `client-address-*` with an installation that trusts two X-Forwarded-For hops;
 * `telemetry-*` with bulwark telemetry at 127.0.0.1:8090 (--telemetry-address); `telemetry-tls-*`
 * with bulwark telemetry's Service over TLS (--telemetry-ca-file testdata/telemetry-ca.pem) and the
 * injector's token file.
 */
export function goldenSettings(name: string): TranslationSettings {
  if (name.startsWith("mesh-")) return { ...defaultSettings, mesh: { trustDomain: "cluster.local", clusterDomain: "cluster.local" } };
  if (name.startsWith("client-address-")) return { ...defaultSettings, clientAddress: { from: "forwardedFor", trustedHops: 2 } };
  if (name.startsWith("telemetry-tls-"))
    return {
      ...defaultSettings,
      telemetry: {
        host: "bulwark-telemetry.bulwark-system.svc",
        port: 8091,
        tls: { caPem: readFileSync(join(goldenDir, "..", "telemetry-ca.pem"), "utf8") },
        tokenFile: `${TelemetryToken.directory}/${TelemetryToken.file}`,
      },
    };
  if (name.startsWith("telemetry-")) return { ...defaultSettings, telemetry: { host: "127.0.0.1", port: 8090 } };
  return defaultSettings;
}
