import { describe, expect, it } from "vitest";
import type { AdaptiveRuleIR } from "../../contract/ir.js";
import type { AdaptiveAction } from "../../contract/telemetry.js";
import { MemoryAdaptiveStore, type AdaptiveStore } from "../adaptive/store.js";
import { MemoryStore } from "../ratelimit/memory-store.js";
import type { CounterStore } from "../ratelimit/store.js";
import { AdaptiveCache } from "./adaptive-cache.js";
import { checkAdaptive, requestIdentities, type AdaptiveRouteConfig } from "./adaptive-check.js";
import type { AuthzRequest } from "./request.js";
import { withoutPort } from "./service.js";

const policy = { namespace: "shop", name: "api" };
const T0 = 1_800_000_000_000;

function rule(over: Partial<AdaptiveRuleIR> = {}): AdaptiveRuleIR {
  return { signal: "CredentialStuffing", identity: "ClientAddress", action: "Block", ttlSeconds: 600, mode: "Enforce", ...over };
}

function config(rules: AdaptiveRuleIR[], over: Partial<AdaptiveRouteConfig> = {}): AdaptiveRouteConfig {
  return { policy, deviceHeader: "x-device-id", failureMode: "Allow", rules, ...over };
}

function flagged(over: Partial<AdaptiveAction> = {}): AdaptiveAction {
  return {
    policy,
    identity: { kind: "ClientAddress", value: "203.0.113.9" },
    action: "Block",
    mode: "Enforce",
    signal: "CredentialStuffing",
    createdMs: T0,
    expiresMs: T0 + 600_000,
    ...over,
  };
}

function request(over: Partial<AuthzRequest> = {}): AuthzRequest {
  return { method: "GET", scheme: "http", host: "shop.test", path: "/v1/x", headers: {}, clientAddress: "203.0.113.9", ...over };
}

async function deps(
  actions: AdaptiveAction[],
  counters: CounterStore = new MemoryStore(),
): Promise<{ store: MemoryAdaptiveStore; actions: AdaptiveCache; counters: CounterStore }> {
  const store = new MemoryAdaptiveStore(() => T0);
  for (const a of actions) await store.flag(a);
  return { store, actions: new AdaptiveCache(store), counters };
}

/** A store whose Redis is away. */
const down: AdaptiveStore = {
  flag: () => Promise.reject(new Error("down")),
  lookup: () => Promise.reject(new Error("down")),
  list: () => Promise.reject(new Error("down")),
  clear: () => Promise.reject(new Error("down")),
  close: () => Promise.resolve(),
};

describe("requestIdentities", () => {
  it("reads the kinds the rules act on: the client address, the device header, the token's sub", () => {
    const all = config([rule(), rule({ identity: "Device" }), rule({ identity: "Account" })]);
    const r = request({ headers: { "x-device-id": "d-1" }, jwtPayload: { sub: "alice" } });
    expect(requestIdentities(r, all)).toEqual([
      { kind: "ClientAddress", value: "203.0.113.9" },
      { kind: "Device", value: "d-1" },
      { kind: "Account", value: "alice" },
    ]);
    expect(requestIdentities(r, config([rule({ identity: "Account" })]))).toEqual([{ kind: "Account", value: "alice" }]);
    // No token, a sub that is not a string, no device header: nothing to look up.
    expect(requestIdentities(request({ clientAddress: undefined, jwtPayload: { sub: 7 } }), all)).toEqual([]);
  });
});

describe("checkAdaptive", () => {
  it("refuses a blocked identity with 403 and the signal in x-bulwark-reason; lets others through untouched", async () => {
    const d = await deps([flagged()]);
    const outcome = await checkAdaptive(request(), config([rule()]), d, T0);
    expect("refusal" in outcome && outcome.refusal).toMatchObject({ allowed: false, status: 403, reason: "adaptive-block:CredentialStuffing", body: '{"error":"forbidden"}' });
    expect(await checkAdaptive(request({ clientAddress: "203.0.113.10" }), config([rule()]), d, T0)).toEqual({ upstream: [] });
  });

  it("ignores an action whose rule the policy no longer has (removing a rule lifts its blocks)", async () => {
    const d = await deps([flagged()]);
    expect(await checkAdaptive(request(), config([rule({ signal: "Scraping" })]), d, T0)).toEqual({ upstream: [] });
  });

  it("Shadow: lets the request through, tells the backend denied, and reports what it would refuse; allowed for others", async () => {
    const d = await deps([flagged()]);
    const shadow = config([rule({ mode: "Shadow" })]);
    expect(await checkAdaptive(request(), shadow, d, T0)).toEqual({
      upstream: [{ name: "x-bulwark-shadow-adaptive", value: "denied" }],
      shadowRefusal: "adaptive-block:CredentialStuffing",
    });
    expect(await checkAdaptive(request({ clientAddress: "192.0.2.1" }), shadow, d, T0)).toEqual({ upstream: [{ name: "x-bulwark-shadow-adaptive", value: "allowed" }] });
  });

  it("follows the policy's current mode: a Shadow action is enforced once the rule says Enforce", async () => {
    const d = await deps([flagged({ mode: "Shadow" })]);
    const outcome = await checkAdaptive(request(), config([rule({ mode: "Enforce" })]), d, T0);
    expect("refusal" in outcome).toBe(true);
  });

  it("throttles to the action's budget (429 past it), counting per identity", async () => {
    const throttle = flagged({ identity: { kind: "Account", value: "trudy" }, action: "Throttle", requests: 2, windowSeconds: 60, signal: "Enumeration" });
    const d = await deps([throttle]);
    const cfg = config([rule({ signal: "Enumeration", identity: "Account", action: "Throttle", requests: 2, windowSeconds: 60 })]);
    const trudy = request({ jwtPayload: { sub: "trudy" } });
    const outcomes = [];
    for (let i = 0; i < 3; i++) outcomes.push(await checkAdaptive(trudy, cfg, d, T0 + i));
    expect(outcomes.map((o) => ("refusal" in o ? o.refusal.allowed === false && o.refusal.status : "ok"))).toEqual(["ok", "ok", 429]);
    const last = outcomes[2];
    expect(last && "refusal" in last && !last.refusal.allowed && last.refusal.reason).toBe("adaptive-throttle:Enumeration");
    expect(await checkAdaptive(request({ jwtPayload: { sub: "bob" } }), cfg, d, T0)).toEqual({ upstream: [] });
  });

  it("a block wins over a throttle on another identity of the same request", async () => {
    const d = await deps([flagged({ identity: { kind: "Account", value: "trudy" }, action: "Throttle", requests: 100, windowSeconds: 60, signal: "Enumeration" }), flagged()]);
    const cfg = config([rule(), rule({ signal: "Enumeration", identity: "Account", action: "Throttle", requests: 100, windowSeconds: 60 })]);
    const outcome = await checkAdaptive(request({ jwtPayload: { sub: "trudy" } }), cfg, d, T0);
    expect("refusal" in outcome && !outcome.refusal.allowed && outcome.refusal.status).toBe(403);
  });

  it("Redis away: failureMode Allow keeps refusing what it last knew and lets unknown identities through; Deny refuses everything with 503", async () => {
    const store = new MemoryAdaptiveStore(() => T0);
    await store.flag(flagged());
    let broken = false;
    const flaky: AdaptiveStore = {
      lookup: (...args) => (broken ? down.lookup(...args) : store.lookup(...args)),
      flag: (a) => store.flag(a),
      list: (p, n) => down.list(p, n),
      clear: (p, i) => down.clear(p, i),
      close: () => down.close(),
    };
    const d = { actions: new AdaptiveCache(flaky, { ttlMs: 1000 }), counters: new MemoryStore() };
    expect("refusal" in (await checkAdaptive(request(), config([rule()]), d, T0))).toBe(true);
    broken = true;
    // Ten seconds later the cached answer is stale, the store cannot be asked: the known block stands.
    expect("refusal" in (await checkAdaptive(request(), config([rule()]), d, T0 + 10_000))).toBe(true);
    expect(await checkAdaptive(request({ clientAddress: "192.0.2.1" }), config([rule()]), d, T0 + 10_000)).toEqual({ upstream: [] });
    const deny = await checkAdaptive(request({ clientAddress: "192.0.2.1" }), config([rule()], { failureMode: "Deny" }), d, T0 + 10_000);
    expect("refusal" in deny && !deny.refusal.allowed && [deny.refusal.status, deny.refusal.reason]).toEqual([503, "adaptive_store_unavailable"]);
  });

  it("throttle counters away: Allow lets the request through, Deny refuses with 503", async () => {
    const broken: CounterStore = { take: () => Promise.reject(new Error("down")), add: () => Promise.reject(new Error("down")), close: () => Promise.resolve() };
    const throttle = flagged({ action: "Throttle", requests: 1, windowSeconds: 60 });
    const d = await deps([throttle], broken);
    const rules = [rule({ action: "Throttle", requests: 1, windowSeconds: 60 })];
    expect(await checkAdaptive(request(), config(rules), d, T0)).toEqual({ upstream: [] });
    const deny = await checkAdaptive(request(), config(rules, { failureMode: "Deny" }), d, T0);
    expect("refusal" in deny && !deny.refusal.allowed && deny.refusal.status).toBe(503);
  });
});

describe("AdaptiveCache", () => {
  it("asks the store at most once per identity per ttl, and again after it (a new block applies within the ttl)", async () => {
    const store = new MemoryAdaptiveStore(() => T0);
    let lookups = 0;
    const counting: AdaptiveStore = {
      lookup: (...args) => ((lookups += 1), store.lookup(...args)),
      flag: (a) => store.flag(a),
      list: (p, n) => store.list(p, n),
      clear: (p, i) => store.clear(p, i),
      close: () => store.close(),
    };
    const cache = new AdaptiveCache(counting, { ttlMs: 1000 });
    const who = [{ kind: "ClientAddress" as const, value: "203.0.113.9" }];
    await Promise.all([cache.lookup(policy, who, T0), cache.lookup(policy, who, T0)]);
    expect((await cache.lookup(policy, who, T0 + 999)).actions).toEqual([]);
    expect(lookups).toBe(1);
    await store.flag(flagged());
    expect((await cache.lookup(policy, who, T0 + 1000)).actions).toHaveLength(1);
    expect(lookups).toBe(2);
  });

  it("stays within its size", async () => {
    const cache = new AdaptiveCache(new MemoryAdaptiveStore(() => T0), { maxEntries: 10 });
    for (let i = 0; i < 50; i++) await cache.lookup(policy, [{ kind: "Device", value: `d-${i}` }], T0);
    expect((cache as unknown as { entries: Map<string, unknown> }).entries.size).toBe(10);
  });
});

describe("withoutPort", () => {
  it.each([
    ["203.0.113.9:41000", "203.0.113.9"],
    ["[2001:db8::1]:443", "2001:db8::1"],
    ["2001:db8::1", "2001:db8::1"],
    ["203.0.113.9", "203.0.113.9"],
  ])("%s → %s", (input, output) => expect(withoutPort(input)).toBe(output));
});
