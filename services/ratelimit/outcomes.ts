import type { RateLimitKeyPartIR } from "../../contract/ir.js";
import { budgetKey, keyValues } from "./keys.js";
import type { LimitIndex } from "./limits.js";
import type { CounterStore } from "./store.js";
import { descriptorKey } from "../../contract/wire.js";

/**
 * A finished request, as the sidecar's access log reports it (envoy/build/filters/outcome-log.ts):
 * the inputs the route's descriptors were built from, and the response code.
 */
export interface Outcome {
  /** The Envoy route's name (the IR route name). */
  routeName: string;
  responseCode: number;
  /** The downstream address the ratelimit filter's remote_address used, without port. */
  clientAddress: string;
  /** Request headers logged, by lower-case name. */
  requestHeaders: ReadonlyMap<string, string>;
  path: string;
  /** The verified JWT payload (jwt_authn dynamic metadata), when there was one. */
  claims: Readonly<Record<string, unknown>>;
}

/** The value Envoy's metadata action puts in a descriptor for a claim. */
function claimValue(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** The descriptor entries the route's ratelimit actions would have produced for this request. */
function entriesFor(outcome: Outcome, parts: readonly RateLimitKeyPartIR[]): Map<string, string> {
  const entries = new Map<string, string>();
  for (const part of parts) {
    let value: string | undefined;
    if (part.kind === "clientIP") value = outcome.clientAddress;
    else if (part.kind === "header") value = outcome.requestHeaders.get(part.header);
    else if (part.kind === "claim") value = claimValue(outcome.claims[part.claim]);
    else value = outcome.path;
    if (value !== undefined) entries.set(descriptorKey(part), value);
  }
  return entries;
}

/**
 * Spends the outcome-aware budgets of the outcome's route whose counted codes include its
 * response code, under the same key the request's descriptor had. Returns the limits spent.
 */
export async function countOutcome(outcome: Outcome, limits: LimitIndex, store: CounterStore, nowMs: number): Promise<string[]> {
  const counted = (limits.countedByRoute.get(outcome.routeName) ?? []).filter((l) => l.countedResponseCodes?.includes(outcome.responseCode));
  await Promise.all(
    counted.map((limit) => store.add({ key: budgetKey(limit, keyValues(limit, entriesFor(outcome, limit.key))), windowMs: limit.windowSeconds * 1000, nowMs, cost: 1 })),
  );
  return counted.map((l) => l.name);
}
