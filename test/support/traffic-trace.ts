/**
 * Realistic mobile-API traffic as telemetry entries, from a seed: a benign population (users with
 * devices, app versions, platforms, home countries, carrier NAT shared by many users, logins with
 * typos, expired tokens, DPoP nonce challenges, browsing, orders, payments with a few declines)
 * and, on request, attacks mixed in at stated times (credential stuffing, a distributed
 * failed-login spike, card testing, enumeration, scraping, impossible travel, replayed DPoP
 * proofs, missing attestations). The same trace can be replayed through real Envoys: each entry
 * names its route, method, path, identity and expected answer.
 *
 * Deterministic: the same options give the same entries (a seeded PRNG; the country pools come
 * from the shipped DB-IP database through the `countryOf` given).
 */

import { attackTraffic } from "./traffic-attacks.js";
import { TRACE_ROUTES, entry, int, pick, seededRandom, uuid, type AttackName, type Random, type TraceAttack, type User } from "./traffic-basics.js";
import type { TelemetryEntry } from "../../contract/telemetry.js";

export * from "./traffic-basics.js";

export interface TraceOptions {
  seed: number;
  /** Benign users; each makes a few sessions over the trace. */
  users: number;
  durationMs: number;
  startMs?: number;
  /** Attacks to mix in (none: a benign trace). */
  attacks?: readonly AttackName[];
  /** Used to fill per-country address pools from random addresses (deterministic for a given database). */
  countryOf: (address: string) => string | undefined;
}

export interface Trace {
  entries: TelemetryEntry[];
  attacks: TraceAttack[];
  benignCount: number;
}

/** Where the population lives, weighted; the attackers' countries are separate. */
const HOME_COUNTRIES: readonly [string, number][] = [
  ["US", 30],
  ["GB", 10],
  ["DE", 10],
  ["FR", 8],
  ["IN", 12],
  ["BR", 8],
  ["JP", 6],
  ["NG", 4],
  ["CA", 6],
  ["ES", 6],
];
const ATTACK_COUNTRIES = ["NL", "RU", "VN", "SG"];
const APP_VERSIONS: readonly [string, number][] = [
  ["5.4.1", 45],
  ["5.4.0", 20],
  ["5.3.2", 15],
  ["5.1.0", 10],
  ["4.9.8", 7],
  ["4.2.0", 3],
];

function weighted(rnd: Random, table: readonly [string, number][]): string {
  const total = table.reduce((s, [, w]) => s + w, 0);
  let r = rnd() * total;
  for (const [value, w] of table) {
    r -= w;
    if (r < 0) return value;
  }
  return table[0]![0];
}

/** Fills a pool of public addresses per country by sampling random IPv4 addresses and asking the database. */
export function countryPools(options: {
  seed: number;
  countries: readonly string[];
  perCountry: number;
  countryOf: (address: string) => string | undefined;
}): Map<string, string[]> {
  const rnd = seededRandom(options.seed ^ 0x9e3779b9);
  const pools = new Map<string, string[]>(options.countries.map((c) => [c, []]));
  let missing = options.countries.length;
  for (let tries = 0; missing > 0 && tries < 5_000_000; tries++) {
    const address = `${int(rnd, 1, 223)}.${int(rnd, 0, 255)}.${int(rnd, 0, 255)}.${int(rnd, 1, 254)}`;
    const pool = pools.get(options.countryOf(address) ?? "");
    if (!pool || pool.length >= options.perCountry) continue;
    pool.push(address);
    if (pool.length === options.perCountry) missing--;
  }
  if (missing > 0) throw new Error("could not fill the country address pools");
  return pools;
}

function makeUsers(rnd: Random, count: number, pools: Map<string, string[]>): User[] {
  const users: User[] = [];
  // Carrier NAT: a few addresses per country shared by many users.
  const nat = new Map([...pools].map(([c, pool]) => [c, pool.slice(0, 4)]));
  for (let i = 0; i < count; i++) {
    const country = weighted(rnd, HOME_COUNTRIES);
    const pool = pools.get(country)!;
    const home = pool[int(rnd, 4, pool.length - 1)]!;
    const addresses = rnd() < 0.5 ? [home, pick(rnd, nat.get(country)!)] : [home];
    const orders = Array.from({ length: int(rnd, 0, 6) }, () => int(rnd, 100_000, 999_999));
    users.push({ subject: uuid(rnd), device: uuid(rnd), appVersion: weighted(rnd, APP_VERSIONS), platform: rnd() < 0.55 ? "android" : "ios", addresses, orders });
  }
  return users;
}

/** One app session: maybe a login (with typos), an expired token or a nonce challenge, then browsing, maybe an order and a payment. */
function session(rnd: Random, user: User, startMs: number, out: TelemetryEntry[]): void {
  let t = startMs;
  const address = pick(rnd, user.addresses);
  const me = { ...user, address, authenticated: true };
  const anon = { ...user, address, authenticated: false };
  const later = (min: number, max: number): number => (t += int(rnd, min, max));
  if (rnd() < 0.04) out.push(entry(TRACE_ROUTES.feed, { timeMs: t, status: 401, reason: "jwt_authn_access_denied{Jwt_is_expired}" }, anon));
  if (rnd() < 0.2) {
    for (let typo = 0; typo < 3 && rnd() < 0.15; typo++) out.push(entry(TRACE_ROUTES.login, { timeMs: later(3000, 15000), status: 401 }, anon));
    out.push(entry(TRACE_ROUTES.login, { timeMs: later(2000, 9000), status: 200 }, anon));
  }
  if (rnd() < 0.05) out.push(entry(TRACE_ROUTES.feed, { timeMs: later(100, 400), status: 401, reason: "dpop_nonce_required" }, me));
  out.push(entry(TRACE_ROUTES.feed, { timeMs: later(100, 400), status: 200 }, me));
  const views = int(rnd, 3, 30);
  for (let v = 0; v < views; v++) browse(rnd, me, later(700, 9000), out);
  if (rnd() < 0.002) out.push(entry(TRACE_ROUTES.cart, { timeMs: later(50, 300), status: 401, reason: "dpop_proof_replayed" }, me));
  if (rnd() < 0.001) out.push(entry(TRACE_ROUTES.cart, { timeMs: later(50, 300), status: 403, reason: "attestation_verdict" }, me));
  if (rnd() < 0.1) pay(rnd, me, later(5000, 30000), out);
}

function browse(rnd: Random, me: User & { address: string; authenticated: boolean }, timeMs: number, out: TelemetryEntry[]): void {
  const r = rnd();
  if (r < 0.3) {
    const id = int(rnd, 1, 200_000);
    out.push(entry(TRACE_ROUTES.products, { timeMs, path: `/v1/products/${id}`, status: rnd() < 0.01 ? 404 : 200 }, me));
  } else if (r < 0.4) out.push(entry(TRACE_ROUTES.reviews, { timeMs, path: `/v1/products/${int(rnd, 1, 200_000)}/reviews`, status: 200 }, me));
  else if (r < 0.55) out.push(entry(TRACE_ROUTES.search, { timeMs, status: 200 }, me));
  else if (r < 0.7) out.push(entry(TRACE_ROUTES.feed, { timeMs, status: 200 }, me));
  else if (r < 0.8) out.push(entry(TRACE_ROUTES.cart, { timeMs, status: 200 }, me));
  else if (r < 0.85) out.push(entry(TRACE_ROUTES.profile, { timeMs, status: 200 }, me));
  else if (r < 0.93 || me.orders.length === 0) out.push(entry(TRACE_ROUTES.orders, { timeMs, path: `/v1/users/${me.subject}/orders`, status: 200 }, me));
  else out.push(entry(TRACE_ROUTES.order, { timeMs, path: `/v1/users/${me.subject}/orders/${pick(rnd, me.orders)}`, status: 200 }, me));
}

/** A payment: declined now and then (402), retried once or twice with another card. */
function pay(rnd: Random, me: User & { address: string; authenticated: boolean }, timeMs: number, out: TelemetryEntry[]): void {
  let t = timeMs;
  for (let attempt = 0; attempt < 3; attempt++) {
    const declined = rnd() < 0.12;
    out.push(entry(TRACE_ROUTES.payments, { timeMs: t, status: declined ? 402 : rnd() < 0.01 ? 422 : 201 }, me));
    if (!declined) return;
    t += int(rnd, 15_000, 60_000);
  }
}

/** The benign population over the trace; sessions start uniformly over its duration. */
function benign(rnd: Random, users: User[], options: { startMs: number; durationMs: number }): TelemetryEntry[] {
  const out: TelemetryEntry[] = [];
  for (const user of users) {
    const sessions = int(rnd, 1, 4);
    for (let s = 0; s < sessions; s++) session(rnd, user, options.startMs + rnd() * options.durationMs * 0.95, out);
  }
  return out;
}

/** A trace of benign traffic with the asked attacks mixed in, sorted by time (stable). */
export function generateTrace(options: TraceOptions): Trace {
  const rnd = seededRandom(options.seed);
  const startMs = options.startMs ?? Date.UTC(2026, 11, 3, 9, 0, 0);
  const pools = countryPools({ seed: options.seed, countries: [...HOME_COUNTRIES.map(([c]) => c), ...ATTACK_COUNTRIES], perCountry: 64, countryOf: options.countryOf });
  const users = makeUsers(rnd, options.users, pools);
  const entries = benign(rnd, users, { startMs, durationMs: options.durationMs });
  const benignCount = entries.length;
  const attacks: TraceAttack[] = [];
  for (const name of options.attacks ?? []) {
    const made = attackTraffic(name, { rnd, startMs, durationMs: options.durationMs, users, pools, attackCountries: ATTACK_COUNTRIES });
    attacks.push(made.attack);
    entries.push(...made.entries);
  }
  entries.sort((a, b) => a.timeMs - b.timeMs);
  return { entries, attacks, benignCount };
}
