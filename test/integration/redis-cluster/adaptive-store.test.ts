/**
 * The adaptive-action store against the real Redis and a real Redis Cluster (three primaries):
 * flag, lookup, list, clear and expiry behave the same on both, and a policy's keys share one
 * slot (one hash tag), so a lookup of several identities is one MGET and a flag one script even
 * in a cluster.
 */
import { Cluster, Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AdaptiveAction } from "../../../contract/telemetry.js";
import { RedisAdaptiveStore } from "../../../services/adaptive/redis-store.js";
import { sleep } from "../../env/processes.js";
import { testEnvironment } from "../../support/environment.js";
import { startRedisCluster, type LocalRedisCluster } from "../../support/redis-cluster.js";

const run = Date.now().toString(36);

function action(over: Partial<AdaptiveAction> & Pick<AdaptiveAction, "identity">): AdaptiveAction {
  const now = Date.now();
  return { policy: { namespace: `ns-${run}`, name: "shop" }, action: "Block", mode: "Enforce", signal: "CredentialStuffing", createdMs: now, expiresMs: now + 60_000, ...over };
}

describe.each(["redis", "redis-cluster"])("adaptive actions in %s", (kind) => {
  let cluster: LocalRedisCluster | undefined;
  let client: Redis | Cluster;
  let store: RedisAdaptiveStore;
  const policy = { namespace: `ns-${run}`, name: "shop" };
  const other = { namespace: `ns-${run}`, name: "other" };

  beforeAll(async () => {
    if (kind === "redis") {
      client = new Redis(testEnvironment().redisUrl);
    } else {
      cluster = await startRedisCluster({ redisServer: testEnvironment().binaries.redisServer });
      const seeds = cluster.nodes.slice(0, 2).map((n) => ({ host: "127.0.0.1", port: Number(n.split(":")[1]) }));
      client = new Cluster(seeds);
    }
    store = new RedisAdaptiveStore(client, `bulwark-test:adaptive:${run}:`);
  });

  afterAll(async () => {
    await store?.close();
    await cluster?.stop();
  });

  // In the cluster, the MGET of three identities and the clear of two keys answer only because a policy's keys share one slot (CROSSSLOT otherwise).
  it("flags, looks up several identities at once, lists and clears", async () => {
    const address = action({ identity: { kind: "ClientAddress", value: "2001:db8::7" } });
    const account = action({ identity: { kind: "Account", value: "mallory" }, action: "Throttle", requests: 5, windowSeconds: 60, signal: "Enumeration" });
    const elsewhere = action({ policy: other, identity: { kind: "ClientAddress", value: "2001:db8::7" } });
    expect(await store.flag(address)).toBe(true);
    expect(await store.flag(account)).toBe(true);
    expect(await store.flag(elsewhere)).toBe(true);
    const found = await store.lookup(
      policy,
      [
        { kind: "ClientAddress", value: "2001:db8::7" },
        { kind: "Device", value: "unknown" },
        { kind: "Account", value: "mallory" },
      ],
      Date.now(),
    );
    expect(found).toEqual([address, account]);
    expect(await store.list(policy, Date.now())).toEqual([account, address]);
    expect((await store.list(undefined, Date.now())).filter((a) => a.policy.namespace === policy.namespace)).toEqual([elsewhere, account, address]);
    expect(await store.clear(policy, { kind: "Account", value: "mallory" })).toBe(1);
    expect(await store.list(policy, Date.now())).toEqual([address]);
    expect(await store.clear(policy)).toBe(1);
    expect(await store.list(policy, Date.now())).toEqual([]);
    expect(await store.list(other, Date.now())).toEqual([elsewhere]);
  });

  it("never replaces a Block by a Throttle while it lasts, and extends an action when its signal fires again", async () => {
    const identity = { kind: "Device" as const, value: "d-1" };
    const blockAction = action({ identity, expiresMs: Date.now() + 30_000 });
    expect(await store.flag(blockAction)).toBe(true);
    expect(await store.flag(action({ identity, action: "Throttle", requests: 1, windowSeconds: 60, expiresMs: Date.now() + 90_000 }))).toBe(false);
    expect(await store.flag(action({ identity, expiresMs: Date.now() + 10_000 }))).toBe(false);
    const longer = action({ identity, expiresMs: Date.now() + 120_000, signal: "Scraping" });
    expect(await store.flag(longer)).toBe(true);
    expect(await store.lookup(policy, [identity], Date.now())).toEqual([longer]);
  });

  it("forgets an action when it expires, in Redis too", async () => {
    const identity = { kind: "ClientAddress" as const, value: "198.51.100.1" };
    expect(await store.flag(action({ identity, expiresMs: Date.now() + 300 }))).toBe(true);
    expect(await store.lookup(policy, [identity], Date.now())).toHaveLength(1);
    await sleep(500);
    expect(await store.lookup(policy, [identity], Date.now())).toEqual([]);
    expect((await store.list(policy, Date.now())).filter((a) => a.identity.value === identity.value)).toEqual([]);
  });

  it("keys very long identity values (a device header is the client's to write) by their digest", async () => {
    const identity = { kind: "Device" as const, value: "x".repeat(5000) };
    expect(await store.flag(action({ identity }))).toBe(true);
    expect(await store.lookup(policy, [identity], Date.now())).toHaveLength(1);
    expect(await store.lookup(policy, [{ kind: "Device", value: "x".repeat(4999) }], Date.now())).toEqual([]);
  });
});
