import { describe, expect, it } from "vitest";
import type { RouteIR } from "../../../contract/ir.js";
import { abuseSignals } from "../../../operator/api/v1alpha1/abuse-signals.js";
import { DEFAULT_SIGNAL_TUNABLES } from "./config.js";
import { signalConfig } from "./policy-config.js";

const route = (name: string, purpose?: "Login" | "Payment"): RouteIR => ({
  name,
  match: { path: { kind: "exact", path: "/x" }, methods: [] },
  action: { kind: "respond", status: 404, body: "", responseHeaders: [] },
  ...(purpose ? { purpose } : {}),
});

describe("signalConfig", () => {
  it("maps the policy's spec.abuseSignals onto the defaults and collects the route purposes", () => {
    const spec = abuseSignals.parse({
      credentialStuffing: { minFailures: 50, failurePercent: 80, window: "10m" },
      scraping: { enabled: false },
      impossibleTravel: { allowedCountryPairs: ["DE-FR"], cooldown: "1h" },
    });
    const config = signalConfig({
      workload: "w",
      policy: { namespace: "n", name: "p" },
      routes: [route("a/login", "Login"), route("a/pay", "Payment"), route("a/feed")],
      abuseSignals: spec,
    });
    expect(config.routePurposes).toEqual({ "a/login": "Login", "a/pay": "Payment" });
    expect(config.tunables.CredentialStuffing).toEqual({ ...DEFAULT_SIGNAL_TUNABLES.CredentialStuffing, minFailures: 50, failureRatio: 0.8, windowMs: 600_000 });
    expect(config.tunables.Scraping.enabled).toBe(false);
    expect(config.tunables.ImpossibleTravel).toEqual({ ...DEFAULT_SIGNAL_TUNABLES.ImpossibleTravel, allowedPairs: ["DE-FR"], cooldownMs: 3_600_000 });
    expect(config.tunables.CardTesting).toEqual(DEFAULT_SIGNAL_TUNABLES.CardTesting);
    expect(signalConfig({ workload: "w", policy: { namespace: "n", name: "p" }, routes: [] }).tunables).toEqual(DEFAULT_SIGNAL_TUNABLES);
  });

  it("refuses values the API does not allow", () => {
    expect(abuseSignals.safeParse({ credentialStuffing: { failurePercent: 0 } }).success).toBe(false);
    expect(abuseSignals.safeParse({ impossibleTravel: { allowedCountryPairs: ["de-fr"] } }).success).toBe(false);
    expect(abuseSignals.safeParse({ scraping: { window: "0s" } }).success).toBe(false);
    expect(abuseSignals.safeParse({ scraping: { unknown: 1 } }).success).toBe(false);
  });
});
