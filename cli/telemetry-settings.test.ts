import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { generateServingMaterial } from "../operator/identity/serving-certificate.js";
import { telemetrySettings } from "./telemetry-settings.js";

const log = pino({ level: "silent" });
const address = { host: "bulwark-telemetry.bulwark-system.svc", port: 8091 };

describe("the controller's telemetry settings (--telemetry-address, --telemetry-ca-file, --telemetry-server-name)", () => {
  it("with the receiver's CA: TLS and the token file the injector mounts", async () => {
    const dir = await mkdtemp(join(tmpdir(), "bulwark-telemetry-ca-"));
    const { caPem } = await generateServingMaterial("t CA", [address.host], new Date());
    await writeFile(join(dir, "ca.crt"), caPem);
    expect(await telemetrySettings({ address, caFile: join(dir, "ca.crt"), serverName: "", log })).toEqual({
      ...address,
      tls: { caPem },
      tokenFile: "/var/run/secrets/bulwark.dev/telemetry/token",
    });
    expect((await telemetrySettings({ address, caFile: join(dir, "ca.crt"), serverName: "t.example", log }))?.tls?.serverName).toBe("t.example");
  });

  it("without it: plaintext and no token; unset address: no telemetry", async () => {
    expect(await telemetrySettings({ address, caFile: "", serverName: "", log })).toEqual(address);
    expect(await telemetrySettings({ address: undefined, caFile: "", serverName: "", log })).toBeUndefined();
  });

  it.each([
    [{ address: undefined, caFile: "/ca", serverName: "" }, /need --telemetry-address/],
    [{ address, caFile: "", serverName: "x" }, /needs --telemetry-ca-file/],
    [{ address, caFile: "/nonexistent/ca.crt", serverName: "" }, /cannot be read/],
    [{ address, caFile: fileURLToPath(import.meta.url), serverName: "" }, /no PEM certificate/],
  ])("refuses %j", async (flags, error) => {
    await expect(telemetrySettings({ ...flags, log })).rejects.toThrow(error);
  });
});
