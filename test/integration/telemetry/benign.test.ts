import { loadavg } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dbipCountryOf } from "../../../services/telemetry/signals/country.js";
import { uniqueName } from "../../support/environment.js";
import { adaptiveRefusal, startProofStack, type ProofStack } from "../../support/telemetry-proof-stack.js";
import { replayTrace } from "../../support/trace-replay.js";
import { generateTrace } from "../../support/traffic-trace.js";

/**
 * The benign half of the proof of #15 through a real sidecar: a seeded trace of over 100,000
 * requests from varied users, devices, app versions and countries (logins with typos, expired
 * tokens, DPoP nonce challenges, browsing, orders, payments with declines), replayed in real time
 * through the stack of test/support/telemetry-proof-stack.ts (real Envoy, real bulwark authz and
 * Redis, the receiver and the analysis with the policy's adaptive rules). No signal fires and
 * nobody is refused. It needs no API server (the reporting only logs and acts), so it runs beside
 * other suites.
 *
 * 2,700 users over 4 minutes make over 100,000 requests, about 420 a second: what the whole stack
 * (client, app, authz, receiver and analysis in this process, plus Envoy) serves on a shared
 * 2-core machine, so the replay keeps close to real time and each user's pace is the trace's.
 * BULWARK_PROOF_USERS changes the population (with BULWARK_PROOF_MIN, the requests it must reach)
 * for a quicker look.
 */
const BENIGN_USERS = Number(process.env.BULWARK_PROOF_USERS ?? 2700);
const BENIGN_MIN = Number(process.env.BULWARK_PROOF_MIN ?? 100_000);
const BENIGN_TRACE_MS = 240_000;
const TRACE_START = Date.UTC(2026, 11, 3, 9, 0, 0);
const countryOf = dbipCountryOf();

let stack: ProofStack;

beforeAll(async () => {
  stack = await startProofStack({ namespace: uniqueName("benign"), countryOf, envoyName: "envoy-benign" });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe("a benign trace through a real sidecar, seen by bulwark telemetry", () => {
  it(`fires nothing and refuses nobody: at least ${BENIGN_MIN} requests from ${BENIGN_USERS} users`, { timeout: 900_000 }, async () => {
    const benign = generateTrace({ seed: 424242, users: BENIGN_USERS, durationMs: BENIGN_TRACE_MS, startMs: TRACE_START, countryOf });
    const entries = benign.entries.filter((e) => e.timeMs < TRACE_START + BENIGN_TRACE_MS + 10_000);
    await stack.signTokens(benign);
    stack.signals.length = 0;
    const result = await replayTrace(entries, { port: stack.sidecarPort, traceStartMs: TRACE_START, wallStartMs: Date.now() + 500, tokenOf: stack.tokenOf, sockets: 64 });
    // The last entries reach the receiver within the logger's 1 s flush.
    await new Promise((r) => setTimeout(r, 2500));
    await stack.reporting.settle();
    const refused = result.replies.filter(adaptiveRefusal);
    const countries = new Set(entries.map((e) => countryOf(e.clientAddress))).size;
    console.log(
      `PROOF benign replay: ${entries.length} requests from ${new Set(entries.map((e) => e.device)).size} devices, ${new Set(entries.map((e) => e.appVersion)).size} app versions, ${countries} countries, in ${(result.elapsedMs / 1000).toFixed(1)} s (${Math.round(entries.length / (result.elapsedMs / 1000))} req/s, sender max lag ${result.maxLagMs} ms, ${result.errors} errors), load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(" ")}`,
    );
    console.log(
      `PROOF benign replay: signals ${stack.signals.length}, adaptive refusals ${refused.length}, false-positive rate ${stack.signals.length / entries.length} per request`,
    );
    for (const s of stack.signals) console.log(`  false positive: ${s.kind} ${s.identityKind ?? "workload"} ${s.identity ?? ""}`);
    expect(entries.length).toBeGreaterThanOrEqual(BENIGN_MIN);
    expect(result.errors).toBe(0);
    // Every request was answered by the sidecar, not dropped (the app answers each with the status the trace asks for).
    expect(result.replies.length).toBe(entries.length);
    expect(stack.signals).toEqual([]);
    expect(refused).toEqual([]);
  });
});
