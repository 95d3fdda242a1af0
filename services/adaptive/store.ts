import { createHash } from "node:crypto";
import type { AdaptiveAction, IdentityKind } from "../../contract/telemetry.js";

/**
 * Where adaptive actions (temporary blocks and tighter budgets of flagged identities) are kept:
 * written by whoever applies signals (bulwark telemetry, the CLI), read by bulwark authz on every
 * request of a policy with adaptiveResponse, listed and cleared by `bulwark blocks`. Redis is the
 * source of truth shared by every replica (redis-store.ts); the memory store is for one process.
 */

export interface PolicyKey {
  namespace: string;
  name: string;
}

export interface Identity {
  kind: IdentityKind;
  value: string;
}

export interface AdaptiveStore {
  /**
   * Records an action until its expiresMs. A Block is never replaced by a Throttle while it lasts,
   * nor an action by one of the same kind that expires sooner; otherwise the newer replaces it
   * (a signal that fires again extends the action). True when stored.
   */
  flag(action: AdaptiveAction): Promise<boolean>;
  /** The unexpired actions on any of `identities` under the policy (one round trip). Rejects when the store cannot answer. */
  lookup(policy: PolicyKey, identities: readonly Identity[], nowMs: number): Promise<AdaptiveAction[]>;
  /** Unexpired actions of one policy, or of every policy, sorted by policy, identity kind and value. */
  list(policy: PolicyKey | undefined, nowMs: number): Promise<AdaptiveAction[]>;
  /** Removes one identity's action, or every action of the policy; returns how many were removed. */
  clear(policy: PolicyKey, identity?: Identity): Promise<number>;
  close(): Promise<void>;
}

/** Longest identity value used as is in a key; longer ones (a device header is the client's to write) are keyed by their SHA-256. */
const MAX_KEY_VALUE = 128;

/** An identity as it appears in keys: `<kind>:<value>` (the value hashed when long). */
export function identityKey(identity: Identity): string {
  const value = identity.value.length <= MAX_KEY_VALUE ? identity.value : `sha256:${createHash("sha256").update(identity.value).digest("hex")}`;
  return `${identity.kind}:${value}`;
}

export function policyKey(policy: PolicyKey): string {
  return `${policy.namespace}/${policy.name}`;
}

/** Block before Throttle. */
function strength(action: AdaptiveAction): number {
  return action.action === "Block" ? 1 : 0;
}

/** Whether `next` replaces `current` (flag's rule). */
export function replaces(current: AdaptiveAction | undefined, next: AdaptiveAction, nowMs: number): boolean {
  if (!current || current.expiresMs <= nowMs) return true;
  if (strength(current) !== strength(next)) return strength(next) > strength(current);
  return next.expiresMs >= current.expiresMs;
}

export function compareActions(a: AdaptiveAction, b: AdaptiveAction): number {
  const pa = policyKey(a.policy);
  const pb = policyKey(b.policy);
  if (pa !== pb) return pa < pb ? -1 : 1;
  const ia = identityKey(a.identity);
  const ib = identityKey(b.identity);
  return ia < ib ? -1 : ia > ib ? 1 : 0;
}

/** For one process (tests, a single replica that also applies the signals). */
export class MemoryAdaptiveStore implements AdaptiveStore {
  private readonly actions = new Map<string, AdaptiveAction>();

  constructor(private readonly now: () => number = Date.now) {}

  private key(policy: PolicyKey, identity: Identity): string {
    return `${policyKey(policy)}|${identityKey(identity)}`;
  }

  flag(action: AdaptiveAction): Promise<boolean> {
    const key = this.key(action.policy, action.identity);
    if (!replaces(this.actions.get(key), action, this.now())) return Promise.resolve(false);
    this.actions.set(key, structuredClone(action));
    return Promise.resolve(true);
  }

  lookup(policy: PolicyKey, identities: readonly Identity[], nowMs: number): Promise<AdaptiveAction[]> {
    const found = identities.map((i) => this.actions.get(this.key(policy, i))).filter((a): a is AdaptiveAction => a !== undefined && a.expiresMs > nowMs);
    return Promise.resolve(found.map((a) => structuredClone(a)));
  }

  list(policy: PolicyKey | undefined, nowMs: number): Promise<AdaptiveAction[]> {
    const all = [...this.actions.values()].filter((a) => a.expiresMs > nowMs && (!policy || policyKey(a.policy) === policyKey(policy)));
    return Promise.resolve(all.sort(compareActions).map((a) => structuredClone(a)));
  }

  clear(policy: PolicyKey, identity?: Identity): Promise<number> {
    let removed = 0;
    for (const [key, action] of this.actions) {
      if (policyKey(action.policy) !== policyKey(policy)) continue;
      if (identity && identityKey(action.identity) !== identityKey(identity)) continue;
      this.actions.delete(key);
      removed += 1;
    }
    return Promise.resolve(removed);
  }

  close(): Promise<void> {
    this.actions.clear();
    return Promise.resolve();
  }
}
