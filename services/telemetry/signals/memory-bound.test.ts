import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import type { TelemetryEntry } from "../../../contract/telemetry.js";
import { DEFAULT_SIGNAL_LIMITS, resolveTunables, type SignalConfig } from "./config.js";
import { SignalEngine } from "./engine.js";

const W = "apisecuritypolicy/shop/shop-api/port/8080";
const LOGIN = "apisecuritypolicy/shop/shop-api/rule/login";
const PAY = "apisecuritypolicy/shop/shop-api/rule/pay";
const config: SignalConfig = { workload: W, policy: { namespace: "shop", name: "shop-api" }, routePurposes: { [LOGIN]: "Login", [PAY]: "Payment" }, tunables: resolveTunables() };

/** One request from a never-seen identity (account, device and address all new), cycling through login, payment, an object read and a refusal. */
function stranger(i: number): TelemetryEntry {
  const kind = i % 4;
  return {
    workload: W,
    route: kind === 0 ? LOGIN : kind === 1 ? PAY : `${W}/rule/orders`,
    method: kind < 2 ? "POST" : "GET",
    path: kind < 2 ? "/v1/x" : `/v1/orders/${i}`,
    status: kind === 3 ? 401 : 200,
    ...(kind === 3 ? { reason: "dpop_proof_replayed" } : {}),
    authenticated: kind !== 0,
    ...(kind !== 0 ? { subject: `acct-${i}` } : {}),
    device: `dev-${i}`,
    clientAddress: `${10 + ((i >>> 24) & 0x3f)}.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`,
    timeMs: 1_800_000_000_000 + i,
    latencyMs: 3,
    requestBytes: 0,
    responseBytes: 0,
  };
}

/** A full collection, so heap figures are live data, not garbage awaiting collection. */
function collect(): void {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
}

describe("memory bounds", () => {
  it("1,000,000 distinct identities leave every table at its cap", { timeout: 300_000 }, () => {
    const engine = new SignalEngine({ configOf: () => config, countryOf: (a) => (a.startsWith("10.") ? "US" : "FR") });
    collect();
    const heapBefore = process.memoryUsage().heapUsed;
    const rssBefore = process.memoryUsage().rss;
    const identities = 1_000_000;
    const started = process.cpuUsage();
    for (let i = 0; i < identities; i += 10_000) engine.observe(Array.from({ length: 10_000 }, (_, j) => stranger(i + j)));
    const cpu = process.cpuUsage(started);
    const sizes = engine.sizes();
    const cap = DEFAULT_SIGNAL_LIMITS.maxIdentities;
    // Each table keeps two generations of at most cap/2 identities: between cap/2 and cap once full.
    const perIdentity = Object.entries(sizes).filter(([kind]) => kind !== "FailedAuthSpike" && kind !== "AttestationFailure");
    expect(perIdentity.map(([kind]) => kind).sort()).toEqual(["CardTesting", "CredentialStuffing", "Enumeration", "ImpossibleTravel", "ReplayedProof", "Scraping"]);
    for (const [kind, table] of perIdentity) {
      const size = Object.values(table)[0]!;
      expect(size, kind).toBeLessThanOrEqual(cap);
      expect(size, kind).toBeGreaterThanOrEqual(cap / 2);
    }
    expect(sizes.FailedAuthSpike).toEqual({ workloads: 1 });
    expect(sizes.AttestationFailure).toEqual({ callers: 0 });
    collect();
    const after = process.memoryUsage();
    const heapMiB = (after.heapUsed - heapBefore) / 2 ** 20;
    const rssMiB = (after.rss - rssBefore) / 2 ** 20;
    console.log(
      `1,000,000 identities, caps of ${cap} per table: heap +${heapMiB.toFixed(0)} MiB (now ${(after.heapUsed / 2 ** 20).toFixed(0)} MiB), RSS +${rssMiB.toFixed(0)} MiB (now ${(after.rss / 2 ** 20).toFixed(0)} MiB); ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms CPU; sizes ${JSON.stringify(sizes)}`,
    );
    // Seven tables at 50,000 identities; unbounded tables would hold 20 times as much (gigabytes).
    expect(heapMiB).toBeLessThan(300);
  });
});
