import type { GlobalRateLimitIR } from "../../contract/ir.js";
import { budgetKey, entryValue, keyValues } from "./keys.js";
import type { LimitIndex } from "./limits.js";
import type { CounterStore } from "./store.js";
import { msUntilWindowEnd, secondsUntilFits, usedInWindow, windowPosition } from "./window.js";
import { LIMIT_DESCRIPTOR_KEY } from "../../contract/wire.js";

/** One descriptor as Envoy sends it: `limit` = the limit's name, then one entry per key part. */
export interface DescriptorInput {
  entries: readonly { key: string; value: string }[];
}

export interface RateLimitQuery {
  descriptors: readonly DescriptorInput[];
  /** Requests this call stands for; Envoy's 0 means 1. */
  hitsAddend: number;
}

export type Code = "OK" | "OVER_LIMIT";

export interface DescriptorDecision {
  /** The descriptor's `limit` entry. */
  limitName?: string;
  /** The limit it names; absent when this replica's configuration does not know it (answered OK). */
  limit?: GlobalRateLimitIR;
  /** What Envoy is told: a Shadow limit always says OK. */
  code: Code;
  /** The budget was spent: refused in Enforce mode, reported only in Shadow mode. */
  exceeded: boolean;
  /** Key values the budget belongs to, in key order. */
  key: string[];
  remaining: number;
  resetSeconds: number;
  retryAfterSeconds?: number;
}

export interface Decision {
  code: Code;
  /** In the order of the query's descriptors. */
  descriptors: DescriptorDecision[];
  /** RateLimit-Policy, RateLimit and (when refused) Retry-After, for limits that show them. */
  responseHeaders: { key: string; value: string }[];
}

async function decideOne(descriptor: DescriptorInput, limits: LimitIndex, store: CounterStore, hits: number, nowMs: number): Promise<DescriptorDecision> {
  const limitName = entryValue(descriptor.entries, LIMIT_DESCRIPTOR_KEY);
  const limit = limitName === undefined ? undefined : limits.byName.get(limitName);
  if (!limit)
    return limitName === undefined
      ? { code: "OK", exceeded: false, key: [], remaining: 0, resetSeconds: 0 }
      : { limitName, code: "OK", exceeded: false, key: [], remaining: 0, resetSeconds: 0 };
  const key = keyValues(limit, descriptor.entries);
  const windowMs = limit.windowSeconds * 1000;
  // An outcome-aware budget is spent by the outcomes (outcomes.ts); a request only checks it.
  const cost = limit.countedResponseCodes ? 0 : hits;
  const counts = await store.take({ key: budgetKey(limit, key), windowMs, nowMs, cost, limit: limit.requests });
  const position = windowPosition(nowMs, windowMs);
  const used = usedInWindow(counts, position);
  const exceeded = cost > 0 ? !counts.spent : used >= limit.requests;
  const decision: DescriptorDecision = {
    limitName: limit.name,
    limit,
    code: exceeded && !limit.shadow ? "OVER_LIMIT" : "OK",
    exceeded,
    key,
    remaining: Math.max(0, limit.requests - used),
    resetSeconds: Math.max(1, Math.ceil(msUntilWindowEnd(position) / 1000)),
  };
  if (exceeded) decision.retryAfterSeconds = secondsUntilFits(counts, position, cost, limit.requests);
  return decision;
}

/**
 * The headers a response carries: those of the enforced limit closest to refusing (RateLimit-Policy
 * and RateLimit, draft-ietf-httpapi-ratelimit-headers-07), and Retry-After when refused. None at
 * all when a refusing limit hides its thresholds (responseHeaders None), so a refusal never
 * reveals them. Shadow limits add nothing: they must not change what clients see.
 */
function responseHeaders(decisions: readonly DescriptorDecision[]): { key: string; value: string }[] {
  // One pass: the enforced limit closest to refusing among those that show headers, and the refusals.
  let closest: (DescriptorDecision & { limit: GlobalRateLimitIR }) | undefined;
  let refusing = false;
  let retryAfter = 0;
  for (const d of decisions) {
    if (d.limit === undefined || d.limit.shadow) continue;
    if (d.code === "OVER_LIMIT") {
      if (!d.limit.responseHeaders) return [];
      refusing = true;
      retryAfter = Math.max(retryAfter, d.retryAfterSeconds ?? d.resetSeconds);
    }
    if (!d.limit.responseHeaders) continue;
    if (!closest || d.remaining < closest.remaining || (d.remaining === closest.remaining && d.resetSeconds < closest.resetSeconds))
      closest = d as DescriptorDecision & { limit: GlobalRateLimitIR };
  }
  if (!closest) return [];
  const headers = [
    { key: "RateLimit-Policy", value: `${closest.limit.requests};w=${closest.limit.windowSeconds}` },
    { key: "RateLimit", value: `limit=${closest.limit.requests}, remaining=${closest.remaining}, reset=${closest.resetSeconds}` },
  ];
  if (refusing) headers.push({ key: "Retry-After", value: String(retryAfter) });
  return headers;
}

/**
 * Decides one ShouldRateLimit call: each descriptor names a limit and carries its key; each
 * budget is spent (or, for outcome-aware budgets, checked) in the store. Refused when any
 * enforced limit is exceeded. Pure apart from the store it is given.
 */
export async function decide(query: RateLimitQuery, limits: LimitIndex, store: CounterStore, nowMs: number): Promise<Decision> {
  const hits = query.hitsAddend > 0 ? query.hitsAddend : 1;
  const only = query.descriptors.length === 1 ? query.descriptors[0] : undefined;
  const descriptors = only ? [await decideOne(only, limits, store, hits, nowMs)] : await Promise.all(query.descriptors.map((d) => decideOne(d, limits, store, hits, nowMs)));
  let code: Code = "OK";
  for (const d of descriptors) if (d.code === "OVER_LIMIT") code = "OVER_LIMIT";
  return {
    code,
    descriptors,
    responseHeaders: responseHeaders(descriptors),
  };
}
