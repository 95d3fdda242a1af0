import type { Cluster, Redis } from "ioredis";
import type { AdaptiveAction } from "../../contract/telemetry.js";
import { compareActions, identityKey, policyKey, type AdaptiveStore, type Identity, type PolicyKey } from "./store.js";

/**
 * Adaptive actions in Redis or a Redis Cluster. Every key of a policy carries the policy in a
 * hash tag (`{ns/name}`), so a policy's actions and its index live in one slot: a lookup of a
 * request's identities is one MGET, a flag one script, on one shard.
 *
 * - `<prefix>{ns/name}:a:<kind>:<value>`: the action (JSON), expiring with it (PX);
 * - `<prefix>{ns/name}:index`: sorted set of the policy's identities by expiry (for list and clear);
 * - `<prefix>policies`: the policies that have had actions (for listing every policy).
 */
export const ADAPTIVE_PREFIX = "bulwark:adaptive:";

/**
 * KEYS: action, index. ARGV: action JSON, its kind (Block/Throttle), its expiry (ms since the
 * epoch), now (ms), index member. Replaces the stored action as store.ts's `replaces` says.
 */
const FLAG_SCRIPT = `
local now = tonumber(ARGV[4])
local expires = tonumber(ARGV[3])
if expires <= now then return 0 end
local cur = redis.call('GET', KEYS[1])
if cur then
  local c = cjson.decode(cur)
  local cs = c.action == 'Block' and 1 or 0
  local ns = ARGV[2] == 'Block' and 1 or 0
  if c.expiresMs > now and (cs > ns or (cs == ns and c.expiresMs > expires)) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', expires - now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('ZADD', KEYS[2], expires, ARGV[5])
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[2], last[2])
return 1
`;

/** KEYS action, index; ARGV json, kind, expiresMs, nowMs, member (FLAG_SCRIPT). */
type FlagCommand = (...keysThenArgs: (string | number)[]) => Promise<number>;

function parseAction(text: string | null, nowMs: number): AdaptiveAction | undefined {
  if (text === null) return undefined;
  try {
    const action = JSON.parse(text) as AdaptiveAction;
    return typeof action.expiresMs === "number" && action.expiresMs > nowMs ? action : undefined;
  } catch {
    return undefined;
  }
}

export class RedisAdaptiveStore implements AdaptiveStore {
  private readonly flagCommand: FlagCommand;

  constructor(
    private readonly redis: Redis | Cluster,
    private readonly prefix = ADAPTIVE_PREFIX,
  ) {
    redis.defineCommand("bulwarkAdaptiveFlag", { numberOfKeys: 2, lua: FLAG_SCRIPT });
    this.flagCommand = (redis as unknown as { bulwarkAdaptiveFlag: FlagCommand }).bulwarkAdaptiveFlag.bind(redis);
  }

  private tag(policy: PolicyKey): string {
    return `${this.prefix}{${policyKey(policy)}}`;
  }

  private actionKey(policy: PolicyKey, identity: Identity): string {
    return `${this.tag(policy)}:a:${identityKey(identity)}`;
  }

  private indexKey(policy: PolicyKey): string {
    return `${this.tag(policy)}:index`;
  }

  private get policiesKey(): string {
    return `${this.prefix}policies`;
  }

  async flag(action: AdaptiveAction): Promise<boolean> {
    const stored = await this.flagCommand(
      this.actionKey(action.policy, action.identity),
      this.indexKey(action.policy),
      JSON.stringify(action),
      action.action,
      action.expiresMs,
      Date.now(),
      identityKey(action.identity),
    );
    if (stored === 1) await this.redis.sadd(this.policiesKey, policyKey(action.policy));
    return stored === 1;
  }

  async lookup(policy: PolicyKey, identities: readonly Identity[], nowMs: number): Promise<AdaptiveAction[]> {
    if (identities.length === 0) return [];
    const values = await this.redis.mget(identities.map((i) => this.actionKey(policy, i)));
    return values.map((v) => parseAction(v, nowMs)).filter((a): a is AdaptiveAction => a !== undefined);
  }

  private async policyActions(policy: PolicyKey, nowMs: number): Promise<AdaptiveAction[]> {
    const members = await this.redis.zrangebyscore(this.indexKey(policy), `(${nowMs}`, "+inf");
    if (members.length === 0) return [];
    const values = await this.redis.mget(members.map((m) => `${this.tag(policy)}:a:${m}`));
    return values.map((v) => parseAction(v, nowMs)).filter((a): a is AdaptiveAction => a !== undefined);
  }

  async list(policy: PolicyKey | undefined, nowMs: number): Promise<AdaptiveAction[]> {
    const policies = policy ? [policy] : (await this.redis.smembers(this.policiesKey)).map(parsePolicy).filter((p): p is PolicyKey => p !== undefined);
    const all = await Promise.all(policies.map((p) => this.policyActions(p, nowMs)));
    return all.flat().sort(compareActions);
  }

  async clear(policy: PolicyKey, identity?: Identity): Promise<number> {
    const members = identity ? [identityKey(identity)] : await this.redis.zrange(this.indexKey(policy), 0, -1);
    if (members.length === 0) return 0;
    const removed = await this.redis.del(...members.map((m) => `${this.tag(policy)}:a:${m}`));
    if (identity) await this.redis.zrem(this.indexKey(policy), members[0] as string);
    else await this.redis.del(this.indexKey(policy));
    return removed;
  }

  async close(): Promise<void> {
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }
}

/** `ns/name` → the policy; undefined for anything else. */
export function parsePolicy(text: string): PolicyKey | undefined {
  const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-.a-z0-9]*[a-z0-9])?)$/.exec(text);
  return m ? { namespace: m[1] as string, name: m[3] as string } : undefined;
}
