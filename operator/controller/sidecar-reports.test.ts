import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { decodeReports, encodeReports, MAX_RECORD_BYTES, type SidecarReport } from "./sidecar-reports.js";

function noise(n: number): string {
  return randomBytes(n).toString("base64").slice(0, n);
}

describe("a replica's sidecar report", () => {
  it("round-trips, dropping malformed node ids and bounding texts", () => {
    const sidecars = new Map<string, SidecarReport>([
      ["web-1.shop", { policy: "shop/api", generation: 3, connected: true }],
      ["web-2.shop", { nack: `<b>bad</b>${"z".repeat(5000)}`, connected: false }],
      [`${"x".repeat(400)}.shop`, { connected: true }],
      ["Not An Id", { connected: true }],
    ]);
    const { data, omitted } = encodeReports(sidecars);
    const back = decodeReports(data);
    expect(omitted).toBe(2);
    expect([...back.keys()]).toEqual(["web-1.shop", "web-2.shop"]);
    expect(back.get("web-1.shop")).toEqual({ policy: "shop/api", generation: 3, connected: true });
    expect(back.get("web-2.shop")?.nack?.startsWith("‹b›bad‹/b›z")).toBe(true);
    expect([...(back.get("web-2.shop")?.nack ?? "")]).toHaveLength(512);
  });

  it("never exceeds its bound, keeping connected sidecars that run a policy first", () => {
    const sidecars = new Map<string, SidecarReport>();
    // Sidecars with the longest node ids and incompressible errors: far more than any bound holds.
    for (let i = 0; i < 3000; i++)
      sidecars.set(
        `${noise(240)
          .toLowerCase()
          .replace(/[^a-z0-9]/g, "a")}-${i}.${"n".repeat(63)}`,
        { nack: noise(512), connected: i % 2 === 0 },
      );
    const programmed = new Map<string, SidecarReport>();
    for (let i = 0; i < 50; i++) programmed.set(`app-${i}.shop`, { policy: "shop/api", generation: 7, connected: true });
    const { data, omitted } = encodeReports(new Map([...sidecars, ...programmed]));
    expect(data.length).toBeLessThanOrEqual(MAX_RECORD_BYTES);
    expect(omitted).toBeGreaterThan(0);
    const back = decodeReports(data);
    for (const id of programmed.keys()) expect(back.get(id)).toEqual({ policy: "shop/api", generation: 7, connected: true });
    expect(back.size).toBe(3050 - omitted);
    // Connected ones before those that left.
    const kept = [...back].filter(([id]) => !id.startsWith("app-"));
    if (kept.some(([, r]) => !r.connected)) expect(kept.filter(([, r]) => r.connected)).toHaveLength(1500);
  });
});
