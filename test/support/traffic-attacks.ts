/**
 * The attacks of the traffic traces (test/support/traffic-trace.ts): each is entries at a stated
 * start time and the identities it uses, shaped as real tools behave (rates, rotations, answers).
 */
import type { TelemetryEntry } from "../../contract/telemetry.js";
import { TRACE_ROUTES, entry, int, pick, uuid, type AttackName, type Random, type TraceAttack, type User } from "./traffic-basics.js";

export interface AttackContext {
  rnd: Random;
  startMs: number;
  durationMs: number;
  users: readonly User[];
  pools: Map<string, string[]>;
  attackCountries: readonly string[];
}

export interface AttackTraffic {
  attack: TraceAttack;
  entries: TelemetryEntry[];
}

/** When each attack starts, as a share of the trace (after the failed-auth baseline's warm-up). */
const START_SHARE: Record<AttackName, number> = {
  enumeration: 0.2,
  stuffing: 0.3,
  replayedProof: 0.35,
  attestation: 0.4,
  distributedStuffing: 0.8,
  impossibleTravel: 0.5,
  cardTesting: 0.55,
  scraping: 0.65,
};

const attackers: Record<AttackName, (ctx: AttackContext, startMs: number) => AttackTraffic> = {
  stuffing,
  distributedStuffing,
  cardTesting,
  enumeration,
  scraping,
  impossibleTravel,
  replayedProof,
  attestation,
};

export function attackTraffic(name: AttackName, ctx: AttackContext): AttackTraffic {
  const startMs = Math.round(ctx.startMs + START_SHARE[name] * ctx.durationMs);
  return attackers[name](ctx, startMs);
}

function attackAddress(ctx: AttackContext): string {
  return pick(ctx.rnd, ctx.pools.get(pick(ctx.rnd, ctx.attackCountries))!);
}

/** A stuffing tool on 3 hosting addresses, 8 login attempts per second each for 60 s, a new device id per attempt, 3% of the credentials valid. */
function stuffing(ctx: AttackContext, startMs: number): AttackTraffic {
  const addresses = [0, 1, 2].map(() => attackAddress(ctx));
  const entries: TelemetryEntry[] = [];
  for (const address of addresses) {
    for (let t = startMs + int(ctx.rnd, 0, 120); t < startMs + 60_000; t += int(ctx.rnd, 90, 160)) {
      entries.push(
        entry(
          TRACE_ROUTES.login,
          { timeMs: t, status: ctx.rnd() < 0.03 ? 200 : 401 },
          { address, device: uuid(ctx.rnd), appVersion: "5.4.1", platform: "android", authenticated: false },
        ),
      );
    }
  }
  return {
    attack: {
      name: "stuffing",
      signal: "CredentialStuffing",
      startMs,
      identities: addresses.map((value) => ({ kind: "ClientAddress", value })),
      description: "3 addresses × ~8 logins/s, 97% failing, a new device id per attempt",
    },
    entries,
  };
}

/** Residential-proxy stuffing: 600 addresses in the users' own countries, 1 to 3 attempts each, about 60 failed logins/s for 45 s. Only the workload-wide spike can see it. */
function distributedStuffing(ctx: AttackContext, startMs: number): AttackTraffic {
  const entries: TelemetryEntry[] = [];
  const home = [...ctx.pools.keys()].filter((c) => !ctx.attackCountries.includes(c));
  for (let i = 0; i < 600; i++) {
    const address = `${pick(ctx.rnd, ctx.pools.get(pick(ctx.rnd, home))!)
      .split(".")
      .slice(0, 3)
      .join(".")}.${int(ctx.rnd, 1, 254)}`;
    const attempts = int(ctx.rnd, 1, 3);
    const first = startMs + int(ctx.rnd, 0, 40_000);
    for (let a = 0; a < attempts; a++) {
      entries.push(entry(TRACE_ROUTES.login, { timeMs: first + a * int(ctx.rnd, 500, 2000), status: 401 }, { address, device: uuid(ctx.rnd), authenticated: false }));
    }
  }
  return {
    attack: {
      name: "distributedStuffing",
      signal: "FailedAuthSpike",
      startMs,
      identities: [],
      description: "600 residential addresses × 1-3 failed logins, ~30 failures/s for 40 s",
    },
    entries,
  };
}

/** A fraudster's account tries stolen cards: one payment per 0.8-1.5 s for 90 s, 85% declined with 402. */
function cardTesting(ctx: AttackContext, startMs: number): AttackTraffic {
  const who = { subject: uuid(ctx.rnd), device: uuid(ctx.rnd), address: attackAddress(ctx), appVersion: "5.4.1", platform: "ios", authenticated: true };
  const entries: TelemetryEntry[] = [];
  for (let t = startMs; t < startMs + 90_000; t += int(ctx.rnd, 800, 1500)) entries.push(entry(TRACE_ROUTES.payments, { timeMs: t, status: ctx.rnd() < 0.85 ? 402 : 201 }, who));
  return {
    attack: {
      name: "cardTesting",
      signal: "CardTesting",
      startMs,
      identities: [{ kind: "Account", value: who.subject }],
      description: "1 account, a payment every 0.8-1.5 s, 85% declined (402)",
    },
    entries,
  };
}

/** BOLA probing: an account walks another user's order ids one by one, 4 per second, refused 403 (ownership) for 60 s. */
function enumeration(ctx: AttackContext, startMs: number): AttackTraffic {
  const victim = pick(ctx.rnd, ctx.users);
  const who = { subject: uuid(ctx.rnd), device: uuid(ctx.rnd), address: attackAddress(ctx), appVersion: "5.4.0", platform: "android", authenticated: true };
  const entries: TelemetryEntry[] = [];
  let order = int(ctx.rnd, 100_000, 900_000);
  for (let t = startMs; t < startMs + 60_000; t += int(ctx.rnd, 200, 300)) {
    entries.push(entry(TRACE_ROUTES.order, { timeMs: t, path: `/v1/users/${victim.subject}/orders/${order++}`, status: 403, reason: "ownership_mismatch" }, who));
  }
  return {
    attack: {
      name: "enumeration",
      signal: "Enumeration",
      startMs,
      identities: [{ kind: "Account", value: who.subject }],
      description: "1 account, sequential order ids of another user, 4/s, 403",
    },
    entries,
  };
}

/** A catalog crawler without an account: products, reviews, sellers and search, about 15 requests/s for 120 s. */
function scraping(ctx: AttackContext, startMs: number): AttackTraffic {
  const who = { device: uuid(ctx.rnd), address: attackAddress(ctx), appVersion: "5.4.1", platform: "android", authenticated: false };
  const entries: TelemetryEntry[] = [];
  for (let t = startMs; t < startMs + 120_000; t += int(ctx.rnd, 40, 90)) {
    const r = ctx.rnd();
    const id = int(ctx.rnd, 1, 200_000);
    if (r < 0.5) entries.push(entry(TRACE_ROUTES.products, { timeMs: t, path: `/v1/products/${id}`, status: 200 }, who));
    else if (r < 0.75) entries.push(entry(TRACE_ROUTES.reviews, { timeMs: t, path: `/v1/products/${id}/reviews`, status: 200 }, who));
    else if (r < 0.9) entries.push(entry(TRACE_ROUTES.sellers, { timeMs: t, path: `/v1/sellers/${id % 5000}`, status: 200 }, who));
    else entries.push(entry(TRACE_ROUTES.search, { timeMs: t, path: `/v1/search/${id % 977}`, status: 200 }, who));
  }
  return {
    attack: {
      name: "scraping",
      signal: "Scraping",
      startMs,
      identities: [{ kind: "Device", value: who.device }],
      description: "1 device, ~15 requests/s over products, reviews, sellers, search",
    },
    entries,
  };
}

/** A stolen session: the victim browses at home, then 4 minutes later its token is used from another continent. */
function impossibleTravel(ctx: AttackContext, startMs: number): AttackTraffic {
  const victim = pick(ctx.rnd, ctx.users);
  const home = { ...victim, address: victim.addresses[0]!, authenticated: true };
  const thief = { subject: victim.subject, device: uuid(ctx.rnd), address: attackAddress(ctx), appVersion: victim.appVersion, platform: victim.platform, authenticated: true };
  const entries = [
    entry(TRACE_ROUTES.feed, { timeMs: startMs - 240_000, status: 200 }, home),
    entry(TRACE_ROUTES.profile, { timeMs: startMs, status: 200 }, thief),
    entry(TRACE_ROUTES.orders, { timeMs: startMs + 2000, path: `/v1/users/${victim.subject}/orders`, status: 200 }, thief),
  ];
  return {
    attack: {
      name: "impossibleTravel",
      signal: "ImpossibleTravel",
      startMs,
      identities: [{ kind: "Account", value: victim.subject }],
      description: "a user's account used from another continent 4 min after the user",
    },
    entries,
  };
}

/** A captured DPoP-bound request replayed once a second for 20 s (authz refuses every copy). */
function replayedProof(ctx: AttackContext, startMs: number): AttackTraffic {
  const who = { subject: uuid(ctx.rnd), device: uuid(ctx.rnd), address: attackAddress(ctx), authenticated: true };
  const entries: TelemetryEntry[] = [];
  for (let t = startMs; t < startMs + 20_000; t += int(ctx.rnd, 900, 1100)) entries.push(entry(TRACE_ROUTES.cart, { timeMs: t, status: 401, reason: "dpop_proof_replayed" }, who));
  return {
    attack: { name: "replayedProof", signal: "ReplayedProof", startMs, identities: [{ kind: "Account", value: who.subject }], description: "1 request replayed every second" },
    entries,
  };
}

/** A script calling the API with a real account but no attestation, twice a second for 30 s. */
function attestation(ctx: AttackContext, startMs: number): AttackTraffic {
  const who = { subject: uuid(ctx.rnd), address: attackAddress(ctx), authenticated: true };
  const entries: TelemetryEntry[] = [];
  for (let t = startMs; t < startMs + 30_000; t += int(ctx.rnd, 400, 600)) entries.push(entry(TRACE_ROUTES.cart, { timeMs: t, status: 403, reason: "attestation_missing" }, who));
  return {
    attack: {
      name: "attestation",
      signal: "AttestationFailure",
      startMs,
      identities: [{ kind: "Account", value: who.subject }],
      description: "1 account, 2 requests/s without attestation",
    },
    entries,
  };
}
