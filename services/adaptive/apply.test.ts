import { describe, expect, it } from "vitest";
import type { AdaptiveRuleIR } from "../../contract/ir.js";
import type { SignalEvent } from "../../contract/telemetry.js";
import { actionsFor, applySignal, blockSummary } from "./apply.js";
import { MemoryAdaptiveStore } from "./store.js";

const rules: AdaptiveRuleIR[] = [
  { signal: "CredentialStuffing", identity: "ClientAddress", action: "Block", ttlSeconds: 900, mode: "Enforce" },
  { signal: "CredentialStuffing", identity: "Device", action: "Throttle", ttlSeconds: 600, requests: 5, windowSeconds: 60, mode: "Shadow" },
  { signal: "Scraping", identity: "ClientAddress", action: "Throttle", ttlSeconds: 60, requests: 10, windowSeconds: 1, mode: "Enforce" },
];

function event(over: Partial<SignalEvent> = {}): SignalEvent {
  return {
    kind: "CredentialStuffing",
    workload: "apisecuritypolicy/shop/api/port/15006",
    policy: { namespace: "shop", name: "api" },
    identity: { kind: "ClientAddress", value: "203.0.113.9" },
    value: 40,
    threshold: 20,
    message: "40 accounts from one address in 60 s",
    timeMs: 1_000_000,
    ...over,
  };
}

describe("actionsFor: which rules a signal's firing triggers", () => {
  it("matches the event's signal and identity kind, and dates the action from now", () => {
    expect(actionsFor(event(), rules, 2_000_000)).toEqual([
      {
        policy: { namespace: "shop", name: "api" },
        identity: { kind: "ClientAddress", value: "203.0.113.9" },
        action: "Block",
        mode: "Enforce",
        signal: "CredentialStuffing",
        createdMs: 2_000_000,
        expiresMs: 2_900_000,
      },
    ]);
  });

  it("carries a Throttle's budget and mode", () => {
    const [throttle] = actionsFor(event({ identity: { kind: "Device", value: "d-1" } }), rules);
    expect(throttle).toMatchObject({ action: "Throttle", requests: 5, windowSeconds: 60, mode: "Shadow", createdMs: 1_000_000, expiresMs: 1_600_000 });
  });

  it("acts on nobody for a workload-wide event, an empty identity, an identity kind or a signal no rule names", () => {
    const { identity: _none, ...workloadWide } = event({ kind: "FailedAuthSpike" });
    expect(actionsFor(workloadWide, rules)).toEqual([]);
    expect(actionsFor(event({ identity: { kind: "ClientAddress", value: "" } }), rules)).toEqual([]);
    expect(actionsFor(event({ identity: { kind: "Account", value: "alice" } }), rules)).toEqual([]);
    expect(actionsFor(event({ kind: "CardTesting" }), rules)).toEqual([]);
  });
});

describe("applySignal", () => {
  it("stores the actions and returns those stored; a Block is not weakened by a later Throttle", async () => {
    let now = 1_000_000;
    const store = new MemoryAdaptiveStore(() => now);
    expect(await applySignal(store, event(), rules, now)).toHaveLength(1);
    now += 1000;
    // Scraping would throttle the same address, which is already blocked.
    expect(await applySignal(store, event({ kind: "Scraping" }), rules, now)).toEqual([]);
    expect((await store.lookup({ namespace: "shop", name: "api" }, [{ kind: "ClientAddress", value: "203.0.113.9" }], now)).map((a) => a.action)).toEqual(["Block"]);
    // Once the block is over, the throttle takes its place.
    now += 900_000;
    expect(await applySignal(store, event({ kind: "Scraping" }), rules, now)).toHaveLength(1);
  });
});

describe("blockSummary", () => {
  it("counts enforced blocks, enforced throttles and shadow actions", () => {
    const actions = [...actionsFor(event(), rules), ...actionsFor(event({ identity: { kind: "Device", value: "d" } }), rules), ...actionsFor(event({ kind: "Scraping" }), rules)];
    expect(blockSummary(actions)).toEqual({ blocked: 1, throttled: 1, shadow: 1 });
    expect(blockSummary([])).toEqual({ blocked: 0, throttled: 0, shadow: 0 });
  });

  it("with the policy's current rules, counts each action as authz enforces it", () => {
    const actions = actionsFor(event(), rules);
    expect(blockSummary(actions, [{ ...(rules[0] as AdaptiveRuleIR), mode: "Shadow" }])).toEqual({ blocked: 0, throttled: 0, shadow: 1 });
    expect(blockSummary(actions, rules.slice(1))).toEqual({ blocked: 0, throttled: 0, shadow: 0 });
  });
});
