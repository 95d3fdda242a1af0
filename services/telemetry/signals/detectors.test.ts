import { describe, expect, it } from "vitest";
import type { SignalEvent, TelemetryEntry } from "../../../contract/telemetry.js";
import { resolveTunables, type SignalConfig, type SignalOverrides } from "./config.js";
import { SignalEngine } from "./engine.js";
import { isAuthFailure, objectOf } from "./entry-facts.js";

const W = "apisecuritypolicy/shop/shop-api/port/8080";
const LOGIN = "apisecuritypolicy/shop/shop-api/rule/login";
const PAY = "apisecuritypolicy/shop/shop-api/rule/pay";
const T0 = Date.UTC(2026, 11, 3, 10);

function config(overrides: SignalOverrides = {}): SignalConfig {
  return { workload: W, policy: { namespace: "shop", name: "shop-api" }, routePurposes: { [LOGIN]: "Login", [PAY]: "Payment" }, tunables: resolveTunables(overrides) };
}

function e(fields: Partial<TelemetryEntry> & { timeMs: number }): TelemetryEntry {
  return {
    workload: W,
    route: `${W}/rule/other`,
    method: "GET",
    path: "/v1/feed",
    status: 200,
    authenticated: false,
    clientAddress: "203.0.113.7",
    latencyMs: 5,
    requestBytes: 0,
    responseBytes: 10,
    ...fields,
  };
}

const countries: Record<string, string> = { "81.2.69.160": "GB", "1.1.1.1": "AU", "2.2.2.2": "FR", "3.3.3.3": "DE" };
function engine(overrides: SignalOverrides = {}): SignalEngine {
  const c = config(overrides);
  return new SignalEngine({ configOf: () => c, countryOf: (a) => countries[a] });
}

function kinds(events: SignalEvent[]): string[] {
  return events.map((x) => `${x.kind}:${x.identity?.kind ?? "-"}:${x.identity?.value ?? "-"}`);
}

describe("CredentialStuffing", () => {
  it("fires on the 20th failed login from one address at a high failure ratio, once per cool-down", () => {
    const s = engine();
    const entries = Array.from({ length: 40 }, (_, i) => e({ route: LOGIN, method: "POST", path: "/v1/login", status: 401, timeMs: T0 + i * 100 }));
    const events = s.observe(entries);
    expect(kinds(events)).toEqual(["CredentialStuffing:ClientAddress:203.0.113.7"]);
    expect(events[0]!.timeMs).toBe(T0 + 19 * 100);
    expect(events[0]!.policy).toEqual({ namespace: "shop", name: "shop-api" });
    const seen: SignalEvent[] = [];
    engine().sink((event) => seen.push(event))(entries);
    expect(seen).toEqual(events);
  });

  it("stays quiet when most logins from the address succeed (a carrier NAT), and on routes not marked Login", () => {
    const s = engine();
    const nat = Array.from({ length: 100 }, (_, i) => e({ route: LOGIN, method: "POST", status: i % 3 === 0 ? 401 : 200, device: `d${i}`, timeMs: T0 + i * 100 }));
    const unmarked = Array.from({ length: 50 }, (_, i) => e({ path: "/v1/other", status: 401, clientAddress: "198.51.100.1", timeMs: T0 + i * 10 }));
    expect(kinds(s.observe([...nat, ...unmarked]).filter((x) => x.kind === "CredentialStuffing"))).toEqual([]);
  });

  it("fires on many distinct accounts tried from one device, and can be disabled", () => {
    const entries = Array.from({ length: 16 }, (_, i) =>
      e({ route: LOGIN, status: 401, device: "dev-1", subject: `user-${i}`, clientAddress: `198.51.100.${i}`, timeMs: T0 + i * 1000 }),
    );
    expect(kinds(engine().observe(entries))).toContain("CredentialStuffing:Device:dev-1");
    expect(kinds(engine({ CredentialStuffing: { enabled: false } }).observe(entries))).not.toContain("CredentialStuffing:Device:dev-1");
  });
});

describe("CardTesting", () => {
  it("fires when an account's payment declines reach the threshold (402 counts twice)", () => {
    const entries = Array.from({ length: 8 }, (_, i) => e({ route: PAY, method: "POST", status: 402, subject: "acct-9", authenticated: true, timeMs: T0 + i * 1000 }));
    const events = engine().observe(entries);
    expect(kinds(events)).toEqual(["CardTesting:Account:acct-9"]);
    expect(events[0]!.timeMs).toBe(T0 + 4000); // the 5th 402: 10 weighted declines
  });

  it("does not fire on two declines then a success, nor on a tuned-up threshold", () => {
    const user = [402, 402, 201].map((status, i) => e({ route: PAY, status, subject: "acct-1", timeMs: T0 + i * 20_000 }));
    expect(engine().observe(user)).toEqual([]);
    const attack = Array.from({ length: 8 }, (_, i) => e({ route: PAY, status: 402, subject: "acct-9", timeMs: T0 + i * 1000 }));
    expect(engine({ CardTesting: { minDeclines: 40 } }).observe(attack)).toEqual([]);
  });
});

describe("Enumeration", () => {
  it("fires on a walk of sequential ids under one template", () => {
    const entries = Array.from({ length: 20 }, (_, i) => e({ path: `/v1/orders/${5000 + i}`, status: 200, subject: "walker", timeMs: T0 + i * 500 }));
    const events = engine().observe(entries);
    expect(kinds(events)).toEqual(["Enumeration:Account:walker"]);
    expect(events[0]!.value).toBe(15);
  });

  it("forgets old ids: a caller back after its cool-down is not flagged on a stale count", () => {
    const s = engine();
    const walk = Array.from({ length: 60 }, (_, i) => e({ path: `/v1/orders/${(i * 7919) % 100_003}`, subject: "reader", timeMs: T0 + i * 500 }));
    expect(kinds(s.observe(walk))).toEqual(["Enumeration:Account:reader"]);
    expect(s.observe([e({ path: "/v1/feed", subject: "reader", timeMs: T0 + 10 * 60_000 })])).toEqual([]);
  });

  it("fires on a high 403/404 ratio, and not on random browsing of a few products", () => {
    const probe = Array.from({ length: 25 }, (_, i) => e({ path: `/v1/orders/${(i * 7919) % 10007}`, status: 404, device: "prober", timeMs: T0 + i * 100 }));
    expect(kinds(engine().observe(probe))).toEqual(["Enumeration:Device:prober"]);
    const browse = Array.from({ length: 30 }, (_, i) => e({ path: `/v1/products/${(i * 104729) % 99991}`, subject: "shopper", timeMs: T0 + i * 2000 }));
    expect(engine().observe(browse)).toEqual([]);
  });

  it("recognises ids: numbers, UUIDs, opaque tokens, not words", () => {
    expect(objectOf("/v1/users/42/orders/9f1c2d3e-1111-4222-a333-444455556666")).toEqual({ template: "/v1/users/{id}/orders/{id}", id: "9f1c2d3e-1111-4222-a333-444455556666" });
    expect(objectOf("/v1/orders/1234")).toEqual({ template: "/v1/orders/{id}", id: "1234", numeric: 1234 });
    expect(objectOf("/v1/files/AbC123xyz987QwErTy")?.template).toBe("/v1/files/{id}");
    expect(objectOf("/v1/feed/recommendations")).toBeUndefined();
  });
});

describe("Scraping", () => {
  it("fires on many distinct paths at a high rate, not on the same rate over few paths", () => {
    const crawl = Array.from({ length: 200 }, (_, i) => e({ path: `/v1/products/${i}/reviews`, device: "crawler", timeMs: T0 + i * 50 }));
    expect(kinds(engine({ Enumeration: { enabled: false } }).observe(crawl))).toEqual(["Scraping:Device:crawler"]);
    const poll = Array.from({ length: 200 }, (_, i) => e({ path: `/v1/feed/page${i % 3}`, device: "poller", timeMs: T0 + i * 50 }));
    expect(engine().observe(poll)).toEqual([]);
  });
});

describe("ImpossibleTravel", () => {
  it("fires for an account seen in two countries within the window; not after it, not for allowed pairs, not for private addresses", () => {
    const hop = (b: string, gapMs: number): TelemetryEntry[] => [
      e({ subject: "u1", clientAddress: "81.2.69.160", timeMs: T0 }),
      e({ subject: "u1", clientAddress: b, timeMs: T0 + gapMs }),
    ];
    expect(kinds(engine().observe(hop("1.1.1.1", 10 * 60_000)))).toEqual(["ImpossibleTravel:Account:u1"]);
    expect(engine().observe(hop("1.1.1.1", 61 * 60_000))).toEqual([]);
    expect(engine().observe(hop("10.0.0.1", 60_000))).toEqual([]);
    const neighbours = [e({ subject: "u2", clientAddress: "2.2.2.2", timeMs: T0 }), e({ subject: "u2", clientAddress: "3.3.3.3", timeMs: T0 + 60_000 })];
    expect(engine({ ImpossibleTravel: { allowedPairs: ["DE-FR"] } }).observe(neighbours)).toEqual([]);
    expect(kinds(engine().observe(neighbours))).toEqual(["ImpossibleTravel:Account:u2"]);
  });
});

describe("ReplayedProof and AttestationFailure", () => {
  it("count authz's refusal reasons per caller", () => {
    const replays = Array.from({ length: 3 }, (_, i) => e({ status: 401, reason: "dpop_proof_replayed", subject: "thief", timeMs: T0 + i * 1000 }));
    const attest = Array.from({ length: 5 }, (_, i) => e({ status: 403, reason: "attestation_invalid", device: "emulator", timeMs: T0 + i * 1000 }));
    expect(kinds(engine().observe([...replays, ...attest]))).toEqual(["ReplayedProof:Account:thief", "AttestationFailure:Device:emulator"]);
    const outage = Array.from({ length: 10 }, (_, i) => e({ status: 503, reason: "attestation_keys_unavailable", device: "d", timeMs: T0 + i }));
    expect(engine().observe(outage)).toEqual([]);
  });
});

describe("FailedAuthSpike", () => {
  const quiet = (from: number, seconds: number): TelemetryEntry[] =>
    Array.from({ length: seconds }, (_, i) =>
      e({ status: i % 5 === 0 ? 401 : 200, reason: i % 5 === 0 ? "jwt_authn_access_denied{Jwt_verification_fails}" : undefined, timeMs: from + i * 1000 }),
    );
  const spike = (from: number): TelemetryEntry[] => Array.from({ length: 200 }, (_, i) => e({ status: 401, clientAddress: `198.51.100.${i % 250}`, timeMs: from + i * 20 }));

  it("learns a baseline, then fires on a spike within a second; never during warm-up", () => {
    const s = engine();
    expect(s.observe(spike(T0))).toEqual([]); // nothing learned yet
    const s2 = engine();
    expect(s2.observe(quiet(T0, 300))).toEqual([]);
    const events = s2.observe(spike(T0 + 300_000));
    expect(kinds(events)).toEqual(["FailedAuthSpike:-:-"]);
    expect(events[0]!.timeMs - (T0 + 300_000)).toBeLessThan(1000);
  });

  it("keeps its baseline across a restart through toJSON and restore", () => {
    const before = engine();
    before.observe(quiet(T0, 300));
    const saved = JSON.parse(JSON.stringify(before.toJSON())) as unknown;
    const after = engine();
    after.restore(saved);
    expect(kinds(after.observe(spike(T0 + 300_000)))).toEqual(["FailedAuthSpike:-:-"]);
    const fresh = engine();
    expect(fresh.observe(spike(T0 + 300_000))).toEqual([]);
    const ignored = engine();
    ignored.restore({ version: 1, failedAuthBaselines: { [W]: { mean: 3, variance: 1, buckets: 60, bucketStartMs: T0, count: 0, firedMs: 0 } } });
    expect(ignored.observe(spike(T0 + 300_000))).toEqual([]);
  });

  it("does not count the DPoP nonce challenge as a failure", () => {
    const nonce = e({ status: 401, reason: "dpop_nonce_required", timeMs: T0 });
    expect(isAuthFailure(nonce)).toBe(false);
    expect(isAuthFailure({ ...nonce, reason: "jwt_authn_access_denied{Jwt_verification_fails}" })).toBe(true);
    expect(isAuthFailure({ ...nonce, status: 403, reason: "attestation_verdict" })).toBe(true);
    expect(isAuthFailure({ ...nonce, status: 403, reason: "ownership_mismatch" })).toBe(false);
  });
});
