import { describe, expect, it } from "vitest";
import type { SignalEvent } from "../../../contract/telemetry.js";
import {
  TRACE_POLICY,
  TRACE_NAMESPACE,
  TRACE_ROUTE_PURPOSES,
  TRACE_WORKLOAD,
  generateTrace,
  seededRandom,
  type AttackName,
  type Trace,
} from "../../../test/support/traffic-trace.js";
import { resolveTunables, type SignalConfig } from "./config.js";
import { dbipCountryOf } from "./country.js";
import { SignalEngine } from "./engine.js";

/**
 * The proof at unit level: a seeded trace of realistic traffic through every detector. The
 * benign trace (over 100,000 requests) fires nothing; each attack mixed into it is seen within
 * 10 s of trace time after it starts, and nothing benign is flagged beside it.
 */
const countryOf = dbipCountryOf();
const config: SignalConfig = {
  workload: TRACE_WORKLOAD,
  policy: { namespace: TRACE_NAMESPACE, name: TRACE_POLICY },
  routePurposes: TRACE_ROUTE_PURPOSES,
  tunables: resolveTunables(),
};
const ALL_ATTACKS: AttackName[] = ["stuffing", "distributedStuffing", "cardTesting", "enumeration", "scraping", "impossibleTravel", "replayedProof", "attestation"];
const TRACE = { seed: 20261203, users: 3000, durationMs: 30 * 60_000, countryOf };

function run(trace: Trace): SignalEvent[] {
  const engine = new SignalEngine({ configOf: (w) => (w === TRACE_WORKLOAD ? config : undefined), countryOf });
  const events: SignalEvent[] = [];
  for (let i = 0; i < trace.entries.length; i += 500) events.push(...engine.observe(trace.entries.slice(i, i + 500)));
  return events;
}

describe("signals over a realistic trace", { timeout: 300_000 }, () => {
  it("come from a deterministic generator: the same seed gives the same entries", () => {
    const small = { ...TRACE, users: 100, attacks: ALL_ATTACKS };
    expect(generateTrace(small)).toEqual(generateTrace(small));
    expect(generateTrace({ ...small, seed: 7 }).entries).not.toEqual(generateTrace(small).entries);
  });

  it("fire nothing on 100,000+ benign requests", () => {
    const trace = generateTrace(TRACE);
    expect(trace.entries.length).toBeGreaterThanOrEqual(100_000);
    const events = run(trace);
    console.log(`benign trace: ${trace.entries.length} requests over ${TRACE.durationMs / 60_000} min, ${events.length} signals`);
    for (const e of events) console.log(`  false positive: ${e.kind} ${e.message}`);
    expect(events).toEqual([]);
  });

  it("fire nothing when the same benign requests arrive at a changing pace (volume that triples, a replay that stalls and catches up)", () => {
    // What a saturated replay through real sidecars does to the wall-clock times Envoy stamps: the
    // pace changes every 5-30 s between a third and three times the trace's. A baseline of failure
    // counts took such swings for spikes (one fired in CI); the learned failure share does not.
    const trace = generateTrace({ ...TRACE, users: 6000, durationMs: 5 * 60_000 }); // as dense as the proof through sidecars: 20 new users a second
    const rnd = seededRandom(7);
    let wall = trace.entries[0]!.timeMs;
    let previous = wall;
    let speed = 1;
    let nextChange = wall;
    const warped = trace.entries.map((entry) => {
      if (entry.timeMs >= nextChange) {
        speed = 1 / 3 + rnd() * (3 - 1 / 3);
        nextChange = entry.timeMs + 5_000 + rnd() * 25_000;
      }
      wall += (entry.timeMs - previous) / speed;
      previous = entry.timeMs;
      return { ...entry, timeMs: Math.round(wall) };
    });
    const events = run({ ...trace, entries: warped });
    for (const e of events) console.log(`  false positive: ${e.kind} ${e.message}`);
    expect(events).toEqual([]);
  });

  it("see every attack within 10 s, and flag no benign identity", () => {
    checkMixed(generateTrace({ ...TRACE, attacks: ALL_ATTACKS }), "mixed trace");
  });

  it("do the same when entries arrive up to 2 s out of order (several sidecars, batched streams)", () => {
    const trace = generateTrace({ ...TRACE, attacks: ALL_ATTACKS });
    const rnd = seededRandom(99);
    const arrival = trace.entries.map((entry) => ({ entry, at: entry.timeMs + rnd() * 2000 }));
    arrival.sort((a, b) => a.at - b.at);
    checkMixed({ ...trace, entries: arrival.map((a) => a.entry) }, "mixed trace, reordered");
  });
});

function checkMixed(trace: Trace, label: string): void {
  {
    const events = run(trace);
    const attackIds = new Set(trace.attacks.flatMap((a) => a.identities.map((i) => `${i.kind}/${i.value}`)));
    const rows: string[] = [];
    for (const attack of trace.attacks) {
      const seen = events.find(
        (e) =>
          e.kind === attack.signal &&
          e.timeMs >= attack.startMs &&
          (attack.identities.length === 0 ? !e.identity : attack.identities.some((i) => i.kind === e.identity?.kind && i.value === e.identity.value)),
      );
      const after = seen ? (seen.timeMs - attack.startMs) / 1000 : Infinity;
      rows.push(`  ${attack.name.padEnd(20)} ${attack.signal.padEnd(19)} detected after ${after.toFixed(2)} s  (${attack.description})`);
      expect(after, `${attack.name} detected within 10 s`).toBeLessThan(10);
    }
    const benignFlagged = events.filter((e) => e.identity && !attackIds.has(`${e.identity.kind}/${e.identity.value}`));
    console.log(`${label}: ${trace.entries.length} requests (${trace.benignCount} benign), ${events.length} signals\n${rows.join("\n")}`);
    for (const e of benignFlagged) console.log(`  other: ${e.kind} ${e.identity?.kind} ${e.message}`);
    // Attack traffic may be seen by more than its own signal (a crawler also names many ids), but no benign caller is flagged.
    expect(benignFlagged).toEqual([]);
  }
}
