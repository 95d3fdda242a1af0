/**
 * Benchmark: the authz decision in process for a route with DPoP + ownership + app version
 * (the route `orders` of test/support/authz-policy.ts), with a memory replay store. Proofs and
 * tokens are signed beforehand (that is the client's cost); each check verifies one proof.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { check } from "../services/authz/check.js";
import { buildRouteTable } from "../services/authz/config.js";
import { DpopNonces } from "../services/authz/dpop-nonce.js";
import { KeySets } from "../services/authz/keys.js";
import { MemoryReplayStore } from "../services/authz/replay-store.js";
import type { AuthzRequest } from "../services/authz/request.js";
import { translate } from "../operator/translate/translate.js";
import { DpopKey, TestIssuer } from "../test/support/authz-client.js";
import { ATTESTER, AUDIENCE, authzPolicyInput, ISSUER, routeName } from "../test/support/authz-policy.js";
import type { Benchmark } from "./benchmark.js";
import { percentileOf } from "./stats.js";

export interface AuthzCheckBenchResult {
  route: string;
  algorithm: string;
  checks: number;
  p50Us: number;
  p99Us: number;
  checksPerSecond: number;
  /** Checks per CPU second of this process (what one core does, however busy the machine is). */
  checksPerCpuSecond: number;
}

async function requests(count: number, key: DpopKey, idp: TestIssuer): Promise<AuthzRequest[]> {
  const token = await idp.sign({ sub: "alice", cnf: { jkt: key.jkt } }, { audience: AUDIENCE, lifetimeSeconds: 3600 });
  const payload = { iss: ISSUER, aud: AUDIENCE, sub: "alice", cnf: { jkt: key.jkt } };
  const path = "/v1/users/alice/orders";
  return Promise.all(
    Array.from({ length: count }, async () => ({
      route: routeName("orders"),
      method: "GET",
      scheme: "http",
      host: "shop.test",
      path,
      headers: {
        authorization: `DPoP ${token}`,
        dpop: await key.proof({ htm: "GET", htu: `http://shop.test${path}`, accessToken: token }),
        "x-app-version": "4.3.0",
        "x-app-platform": "ios",
      },
      jwtPayload: payload,
    })),
  );
}

export async function runAuthzCheckBench(options: { checks?: number; algorithm?: string } = {}): Promise<AuthzCheckBenchResult> {
  const checks = options.checks ?? 20_000;
  const algorithm = options.algorithm ?? "ES256";
  const idp = await TestIssuer.create(ISSUER);
  const attester = await TestIssuer.create(ATTESTER);
  const key = await DpopKey.generate(algorithm);
  const table = buildRouteTable(translate(authzPolicyInput({ idpJwks: idp.jwks, attestJwks: attester.jwks })).ir);
  const deps = { now: Date.now, replay: new MemoryReplayStore(Date.now, { rememberedSince: 0 }), nonces: new DpopNonces(), keys: new KeySets().keys };
  const warmup = await requests(1000, key, idp);
  for (const r of warmup) await check(r, table, deps);
  const batch = await requests(checks, key, idp);
  const durations: number[] = [];
  const started = performance.now();
  const cpu = process.cpuUsage();
  for (const r of batch) {
    const t0 = performance.now();
    const decision = await check(r, table, deps);
    durations.push((performance.now() - t0) * 1000);
    if (!decision.allowed) throw new Error(`benchmark request refused: ${decision.reason}`);
  }
  const elapsed = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return {
    route: routeName("orders"),
    algorithm,
    checks,
    p50Us: Math.round(percentileOf(durations, 0.5)),
    p99Us: Math.round(percentileOf(durations, 0.99)),
    checksPerSecond: Math.round(checks / elapsed),
    checksPerCpuSecond: Math.round(checks / ((used.user + used.system) / 1e6)),
  };
}

export const authzCheck: Benchmark = {
  name: "authz-check",
  async run(): Promise<void> {
    const rows: AuthzCheckBenchResult[] = [];
    for (const algorithm of ["ES256", "EdDSA"]) rows.push(await runAuthzCheckBench({ algorithm }));
    console.log(`algorithm  checks   p50 µs  p99 µs  checks/s (sequential)  checks/CPU-s  (load average ${loadavg()[0]?.toFixed(2)})`);
    for (const r of rows)
      console.log(
        `${r.algorithm.padEnd(10)} ${String(r.checks).padEnd(8)} ${String(r.p50Us).padStart(6)}  ${String(r.p99Us).padStart(6)}  ${String(r.checksPerSecond).padStart(21)}  ${String(r.checksPerCpuSecond).padStart(12)}`,
      );
    await mkdir(new URL("./results/", import.meta.url), { recursive: true });
    await writeFile(new URL("./results/authz-check.json", import.meta.url), `${JSON.stringify(rows, null, 2)}\n`);
  },
};
