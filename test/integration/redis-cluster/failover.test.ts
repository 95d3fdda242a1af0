/**
 * Issue #19 goal 8: a real Redis Cluster (three primaries, one replica each, Debian's
 * redis-server with --cluster-enabled) behind bulwark ratelimit and bulwark authz, each behind
 * a real Envoy sidecar. A primary is killed (SIGKILL) while both take requests; the test measures
 * what the failover costs and asserts what must hold: no DPoP replay is ever admitted, no budget
 * admits more than its stated bound, and both recover without help.
 */
import { createServer, request, type Server } from "node:http";
import { Cluster } from "ioredis";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { standaloneBootstrap } from "../../../envoy/bootstrap/standalone-bootstrap.js";
import type { TranslationSettings } from "../../../contract/ir.js";
import type { RedisTarget } from "../../../common/redis-target.js";
import { policy, service, sidecarPod } from "../../../operator/testdata/objects.js";
import type { TranslationInput } from "../../../operator/resolve/objects.js";
import { render } from "../../../operator/translate/render.js";
import { replayStoreFor } from "../../../cli/replay-store-target.js";
import { bucketMarkerKey, bucketTag, keySlot, REPLAY_BUCKETS } from "../../../services/authz/cluster-replay-store.js";
import { markerValue } from "../../../services/authz/replay-store.js";
import { RouteTableHolder, buildRouteTable } from "../../../services/authz/config.js";
import { DpopNonces } from "../../../services/authz/dpop-nonce.js";
import { KeySets } from "../../../services/authz/keys.js";
import { AuthzServer } from "../../../services/authz/service.js";
import { freePort, sleep } from "../../env/processes.js";
import { DpopKey, TestIssuer } from "../../support/authz-client.js";
import { AUDIENCE, authzPolicyInput, ISSUER } from "../../support/authz-policy.js";
import { startEnvoy, type EnvoyProcess } from "../../support/envoy-process.js";
import { testEnvironment, uniqueName } from "../../support/environment.js";
import { waitFor } from "../../support/poll.js";
import { send, startReplica, stopReplica, type Replica } from "../../support/ratelimit-stack.js";
import { startRedisCluster, type LocalRedisCluster } from "../../support/redis-cluster.js";

const LIMIT = 20;
const DEVICES = 24;
const HOST = "shop.test";
const PATH = "/v1/users/alice/orders";

function ratelimitObjects(appPort: number): (pod: { name: string; sidecarPort: number }) => TranslationInput {
  const rules = [
    {
      name: "images",
      authentication: "None",
      match: { methods: ["GET"], pathPrefix: "/v1/images/" },
      // An hour: the whole test sits in one window, so a budget's admissions can be counted exactly.
      rateLimits: [{ name: "per-device", key: ["header:X-Device-Id"], limit: { requests: LIMIT, per: "1h" } }],
    },
  ];
  return (pod) => ({
    policies: [policy({ name: "shop-api", created: "2026-01-01T00:00:00Z", spec: { targetRefs: [{ kind: "Service", name: "shop-api" }], rules } })],
    services: [service("shop", "shop-api", { app: "shop" })],
    pods: [sidecarPod("shop", pod.name, { app: "shop" }, { sidecar: pod.sidecarPort, app: appPort })],
    secrets: [],
    now: new Date().toISOString(),
  });
}

function get(port: number, headers: Record<string, string>): Promise<{ status: number; reason: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method: "GET", path: PATH, headers: { host: HOST, ...headers } }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0, reason: String(res.headers["x-bulwark-reason"] ?? "") }));
    });
    req.on("error", reject);
    req.end();
  });
}

interface Outcome {
  at: number;
  status: number;
  reason: string;
}

const tally = (outcomes: Outcome[]): Record<string, number> => {
  const counts: Record<string, number> = {};
  for (const o of outcomes) counts[`${o.status} ${o.reason}`.trim()] = (counts[`${o.status} ${o.reason}`.trim()] ?? 0) + 1;
  return counts;
};

describe("Redis Cluster: budgets and the DPoP replay store through a primary's failover (real redis-server, Envoy, ratelimit, authz)", () => {
  let cluster: LocalRedisCluster;
  let app: Server;
  let replica: Replica;
  let authz: AuthzServer;
  let disconnectAuthz: (() => void) | undefined;
  let authzEnvoy: EnvoyProcess;
  let authzPort = 0;
  let idp: TestIssuer;
  let phone: DpopKey;

  beforeAll(async () => {
    cluster = await startRedisCluster({ redisServer: testEnvironment().binaries.redisServer, nodeTimeoutMs: 2000 });
    const target: RedisTarget = { kind: "cluster", nodes: cluster.nodes.slice(0, 2).map((n) => ({ host: "127.0.0.1", port: Number(n.split(":")[1]) })) };
    app = createServer((_req, res) => res.end("{}"));
    await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", resolve));
    const appPort = (app.address() as { port: number }).port;

    replica = await startReplica({ objects: ratelimitObjects(appPort), pod: "shop-a", redisUrl: "", redisTarget: target });

    idp = await TestIssuer.create(ISSUER);
    const attester = await TestIssuer.create("https://attest.example.com/");
    phone = await DpopKey.generate("ES256");
    authzPort = await freePort();
    const input = authzPolicyInput({ idpJwks: idp.jwks, attestJwks: attester.jwks, ports: { sidecar: authzPort, app: appPort } });
    const tables = new RouteTableHolder();
    tables.swap(buildRouteTable(render(input).ir));
    // A store in use for an hour: a new one refuses proofs that may predate it (restart-replay.test.ts).
    const seed = new Cluster(target.nodes);
    for (let n = 0; n < REPLAY_BUCKETS; n++) await seed.set(bucketMarkerKey("bulwark:dpop:", n), markerValue(Date.now() - 3_600_000));
    await seed.quit();
    // The store and client bulwark authz builds for --redis-cluster-nodes.
    const { replay, disconnect } = replayStoreFor(target, pino({ level: "silent" }));
    disconnectAuthz = disconnect;
    authz = new AuthzServer({
      host: "127.0.0.1",
      port: 0,
      tables,
      deps: { now: Date.now, replay, nonces: new DpopNonces({ secret: "secret-of-the-cluster-test" }), keys: new KeySets().keys },
      log: pino({ level: "silent" }),
    });
    const grpcPort = await authz.start();
    const settings: TranslationSettings = {
      authz: { host: "127.0.0.1", port: grpcPort, timeoutMs: 1000 },
      ratelimit: { host: "127.0.0.1", port: 1, timeoutMs: 100 },
      rateLimitDomain: "bulwark",
    };
    const workload = render(input, settings).workloads[0];
    if (!workload) throw new Error("no workload rendered");
    authzEnvoy = await startEnvoy(standaloneBootstrap(workload.resources), "envoy-cluster-authz");
  });

  afterAll(async () => {
    await stopReplica(replica);
    await authzEnvoy?.stop();
    await authz?.stop(100);
    disconnectAuthz?.();
    await new Promise((resolve) => app?.close(resolve));
    await cluster?.stop();
  });

  it("places keys in the slots Redis Cluster computes (the replay buckets' hash tags)", async () => {
    const port = Number(cluster.nodes[0]?.split(":")[1]);
    for (const tag of [bucketTag("bulwark:dpop:", 0), bucketTag("bulwark:dpop:", 255), "123456789", "bulwark:rl:abc"]) {
      expect(keySlot(tag), tag).toBe(Number((await cluster.cli(port, "CLUSTER", "KEYSLOT", tag)).trim()));
    }
  });

  it("loses at most one budget per affected key, admits no replayed proof, and recovers alone when a primary is killed under load", async () => {
    const token = await idp.sign({ sub: "alice", cnf: { jkt: phone.jkt } }, { audience: AUDIENCE });
    const signed = async (): Promise<Record<string, string>> => ({
      authorization: `DPoP ${token}`,
      dpop: await phone.proof({ htm: "GET", htu: `http://${HOST}${PATH}`, accessToken: token }),
      "x-app-version": "4.3.0",
      "x-app-platform": "ios",
    });
    const devices = Array.from({ length: DEVICES }, (_, i) => uniqueName(`device-${i}`));
    const admitted = new Map<string, number>();
    const budgetOutcomes: Outcome[] = [];
    const fresh: Outcome[] = [];
    const replays: Outcome[] = [];
    const accepted: Record<string, string>[] = [];
    const degraded: number[] = [];
    let stop = false;

    const budgetLoop = async (worker: number): Promise<void> => {
      for (let i = worker; !stop; i += 3) {
        const device = devices[i % DEVICES] as string;
        const reply = await send(replica.port, { path: "/v1/images/cat.png", headers: { "x-device-id": device } }).catch(() => ({ status: 0 }));
        budgetOutcomes.push({ at: Date.now(), status: reply.status, reason: "" });
        if (reply.status === 200) admitted.set(device, (admitted.get(device) ?? 0) + 1);
      }
    };
    const dpopLoop = async (): Promise<void> => {
      while (!stop) {
        const headers = await signed();
        const reply = await get(authzPort, headers).catch(() => ({ status: 0, reason: "no answer" }));
        fresh.push({ at: Date.now(), ...reply });
        if (reply.status === 200) accepted.push(headers);
        // An attacker replays a proof already used: the latest one, or any earlier one.
        const old = accepted[Math.random() < 0.5 ? accepted.length - 1 : Math.floor(Math.random() * accepted.length)];
        if (old && old !== headers) replays.push({ at: Date.now(), ...(await get(authzPort, old).catch(() => ({ status: 0, reason: "no answer" }))) });
      }
    };
    const watchDegraded = async (): Promise<void> => {
      while (!stop) {
        if (replica.store.isDegraded) degraded.push(Date.now());
        await sleep(25);
      }
    };

    // The store has answered: proofs are accepted before the failover.
    await waitFor("a first DPoP proof accepted", async () => (await get(authzPort, await signed())).status === 200, 30_000, 200);
    const loops = [budgetLoop(0), budgetLoop(1), budgetLoop(2), dpopLoop(), dpopLoop(), watchDegraded()];
    let killedAt = 0;
    let healthyAt = 0;
    try {
      await sleep(3000);
      const victim = await cluster.primaryWithReplica();
      killedAt = Date.now();
      cluster.kill(victim);
      await cluster.waitFailedOver(victim, 60_000);
      healthyAt = Date.now();
      // DPoP answers again: ten fresh proofs accepted in a row after the kill.
      await waitFor(
        "fresh DPoP proofs accepted again after the failover",
        () => {
          const after = fresh.filter((o) => o.at > healthyAt);
          return after.length >= 10 && after.slice(-10).every((o) => o.status === 200);
        },
        60_000,
        100,
      );
      await sleep(2000);
    } finally {
      stop = true;
      await Promise.all(loops);
    }

    // Every proof accepted once, replayed now: none may pass.
    const finalReplays: Outcome[] = [];
    for (const headers of accepted) finalReplays.push({ at: Date.now(), ...(await get(authzPort, headers)) });

    const lastFreshRefusal = Math.max(killedAt, ...fresh.filter((o) => o.at > killedAt && o.status !== 200).map((o) => o.at));
    const lastDegraded = Math.max(killedAt, ...degraded.filter((t) => t > killedAt));
    const overAdmitted = [...admitted.values()].reduce((sum, n) => sum + Math.max(0, n - LIMIT), 0);
    const during = (o: Outcome): boolean => o.at >= killedAt && o.at <= Math.max(lastFreshRefusal, lastDegraded, healthyAt);
    const figures = {
      clusterHealthyAfterMs: healthyAt - killedAt,
      ratelimit: {
        decisions: budgetOutcomes.length,
        decisionsDuringFailover: budgetOutcomes.filter(during).length,
        degradedForMs: lastDegraded - killedAt,
        devicesOverBudget: [...admitted.values()].filter((n) => n > LIMIT).length,
        overAdmitted,
        mostAdmittedForOneDevice: Math.max(...admitted.values()),
        limit: LIMIT,
        outcomes: tally(budgetOutcomes),
      },
      dpop: {
        freshProofs: fresh.length,
        freshDuringFailover: tally(fresh.filter(during)),
        refusedForMsAfterKill: lastFreshRefusal - killedAt,
        replaysDuringRun: tally(replays),
        finalReplays: tally(finalReplays),
      },
    };
    console.log(`redis cluster failover figures: ${JSON.stringify(figures, null, 2)}`);

    // Fail closed: no replayed proof was ever admitted, during the failover or after it.
    expect(replays.filter((o) => o.status === 200)).toEqual([]);
    expect(finalReplays.filter((o) => o.status === 200)).toEqual([]);
    expect(fresh.every((o) => o.status === 200 || o.status === 401 || o.status === 503)).toBe(true);
    // Budgets: a budget on the lost shard counts in memory meanwhile (at most LIMIT more per
    // replica) and its primary's last unreplicated increments may be lost (at most LIMIT).
    for (const [device, n] of admitted) expect(n, device).toBeLessThanOrEqual(3 * LIMIT);
    // Recovered without help, and counting in Redis again.
    expect(replica.store.isDegraded).toBe(false);
    expect(fresh.filter((o) => o.at > healthyAt && o.status === 200).length).toBeGreaterThanOrEqual(10);
  });
});
