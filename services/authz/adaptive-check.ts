import type { AdaptiveIR, AdaptiveRuleIR } from "../../contract/ir.js";
import type { AdaptiveAction, IdentityKind } from "../../contract/telemetry.js";
import { ShadowHeader } from "../../contract/wire.js";
import type { Identity, PolicyKey } from "../adaptive/store.js";
import type { CounterStore } from "../ratelimit/store.js";
import type { AdaptiveCache } from "./adaptive-cache.js";
import { refuse, type Decision, type Header, type RefusalReason } from "./decision.js";
import type { AuthzRequest } from "./request.js";

/** What a route of a workload with adaptiveResponse carries into authz's route table. */
export interface AdaptiveRouteConfig extends AdaptiveIR {
  policy: PolicyKey;
}

export interface AdaptiveDeps {
  actions: AdaptiveCache;
  /** Throttle budgets, shared by the replicas (bulwark ratelimit's Redis counters, sliding window). */
  counters: CounterStore;
}

/** What the adaptive check says: a refusal, or what the backend is told (Shadow) and what was not enforced. */
export type AdaptiveOutcome = { refusal: Decision } | { upstream: Header[]; shadowRefusal?: RefusalReason };

const NOTHING: AdaptiveOutcome = { upstream: [] };

/** The request's identities the workload's rules act on: the client address, the device header's value, the token's sub. */
export function requestIdentities(request: AuthzRequest, config: AdaptiveIR): Identity[] {
  const kinds = new Set<IdentityKind>(config.rules.map((r) => r.identity));
  const out: Identity[] = [];
  if (kinds.has("ClientAddress") && request.clientAddress) out.push({ kind: "ClientAddress", value: request.clientAddress });
  const device = config.deviceHeader ? request.headers[config.deviceHeader] : undefined;
  if (kinds.has("Device") && device) out.push({ kind: "Device", value: device });
  const sub = request.jwtPayload?.sub;
  if (kinds.has("Account") && typeof sub === "string" && sub !== "") out.push({ kind: "Account", value: sub });
  return out;
}

/** The rule an action is enforced under now: the policy's current rule for its signal and identity kind (none: the action is ignored). */
function ruleOf(action: AdaptiveAction, rules: readonly AdaptiveRuleIR[]): AdaptiveRuleIR | undefined {
  return rules.find((r) => r.signal === action.signal && r.identity === action.identity.kind);
}

interface Applicable {
  action: AdaptiveAction;
  mode: AdaptiveRuleIR["mode"];
}

/** Enforced before shadowed, blocks before throttles. */
function order(a: Applicable, b: Applicable): number {
  if (a.mode !== b.mode) return a.mode === "Enforce" ? -1 : 1;
  return (a.action.action === "Block" ? 0 : 1) - (b.action.action === "Block" ? 0 : 1);
}

function throttleKey(policy: PolicyKey, identity: Identity): string {
  return `bulwark:adaptive:{${policy.namespace}/${policy.name}}:t:${identity.kind}:${identity.value}`;
}

/** Whether the identity is over its throttle (counting this request); undefined when the counters cannot answer. */
async function overThrottle(action: AdaptiveAction, config: AdaptiveRouteConfig, deps: AdaptiveDeps, nowMs: number): Promise<boolean | undefined> {
  if (action.requests === undefined || action.windowSeconds === undefined) return false;
  try {
    const result = await deps.counters.take({ key: throttleKey(config.policy, action.identity), windowMs: action.windowSeconds * 1000, nowMs, cost: 1, limit: action.requests });
    return !result.spent;
  } catch {
    return undefined;
  }
}

function unavailable(config: AdaptiveRouteConfig): AdaptiveOutcome {
  return config.failureMode === "Deny" ? { refusal: refuse(503, "adaptive_store_unavailable") } : NOTHING;
}

/**
 * The adaptive response for one request: the actions on its identities (from the cache over
 * Redis), enforced under the policy's current rules. A Block refuses with 403, a Throttle past its
 * budget with 429, each with `x-bulwark-reason: adaptive-block:<signal>` or
 * `adaptive-throttle:<signal>`; in Shadow mode the request goes on and the backend receives
 * `x-bulwark-shadow-adaptive: denied` (`allowed` otherwise, replacing any copy the client sent).
 * While the store cannot answer, failureMode decides (Allow: what is known from the last answers).
 */
export async function checkAdaptive(request: AuthzRequest, config: AdaptiveRouteConfig, deps: AdaptiveDeps, nowMs: number): Promise<AdaptiveOutcome> {
  const shadows = config.rules.some((r) => r.mode === "Shadow");
  const identities = requestIdentities(request, config);
  const found = identities.length === 0 ? { actions: [], unavailable: false } : await deps.actions.lookup(config.policy, identities, nowMs);
  if (found.unavailable && config.failureMode === "Deny") return unavailable(config);
  const applicable = found.actions
    .flatMap((action): Applicable[] => {
      const rule = ruleOf(action, config.rules);
      return rule ? [{ action, mode: rule.mode }] : [];
    })
    .sort(order);
  for (const { action, mode } of applicable) {
    let reason: RefusalReason;
    if (action.action === "Block") reason = `adaptive-block:${action.signal}`;
    else {
      const over = await overThrottle(action, config, deps, nowMs);
      if (over === undefined) {
        if (config.failureMode === "Deny") return unavailable(config);
        continue;
      }
      if (!over) continue;
      reason = `adaptive-throttle:${action.signal}`;
    }
    if (mode === "Enforce")
      return { refusal: refuse(action.action === "Block" ? 403 : 429, reason, { body: { error: action.action === "Block" ? "forbidden" : "too_many_requests" } }) };
    return { upstream: [{ name: ShadowHeader.adaptive, value: "denied" }], shadowRefusal: reason };
  }
  return shadows ? { upstream: [{ name: ShadowHeader.adaptive, value: "allowed" }] } : NOTHING;
}
