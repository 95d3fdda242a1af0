import type { AdaptiveRuleIR } from "../../contract/ir.js";
import type { AdaptiveAction, SignalEvent } from "../../contract/telemetry.js";
import type { AdaptiveStore } from "./store.js";

/**
 * What a signal's firing does: the actions of the policy's adaptive rules whose signal and
 * identity kind match the event's (none for an event without an identity, such as FailedAuthSpike).
 * Pure; `nowMs` is when the actions start.
 */
export function actionsFor(event: SignalEvent, rules: readonly AdaptiveRuleIR[], nowMs: number = event.timeMs): AdaptiveAction[] {
  const identity = event.identity;
  if (!identity || identity.value === "") return [];
  return rules
    .filter((r) => r.signal === event.kind && r.identity === identity.kind)
    .map((r) => ({
      policy: { namespace: event.policy.namespace, name: event.policy.name },
      identity: { kind: identity.kind, value: identity.value },
      action: r.action,
      ...(r.action === "Throttle" && r.requests !== undefined && r.windowSeconds !== undefined ? { requests: r.requests, windowSeconds: r.windowSeconds } : {}),
      mode: r.mode,
      signal: event.kind,
      createdMs: nowMs,
      expiresMs: nowMs + r.ttlSeconds * 1000,
    }));
}

/**
 * Records the actions a signal event calls for (what bulwark telemetry calls for each event of a
 * policy with adaptiveResponse). Returns the actions stored (an action kept by a stronger or
 * longer one already there is left out). Rejects when the store cannot be written.
 */
export async function applySignal(store: AdaptiveStore, event: SignalEvent, rules: readonly AdaptiveRuleIR[], nowMs: number): Promise<AdaptiveAction[]> {
  const actions = actionsFor(event, rules, nowMs);
  const stored = await Promise.all(actions.map((a) => store.flag(a)));
  return actions.filter((_a, i) => stored[i]);
}

/**
 * Counts for a policy's status (status.traffic.blocked = blocked + throttled, shadowActions =
 * shadow) and the CLI: identities blocked and throttled (enforced), and those acted on in Shadow
 * mode. With the policy's current `rules`, each action counts as authz enforces it: under its
 * rule's current mode, and not at all when the policy no longer has its rule.
 */
export function blockSummary(actions: readonly AdaptiveAction[], rules?: readonly AdaptiveRuleIR[]): { blocked: number; throttled: number; shadow: number } {
  let blocked = 0;
  let throttled = 0;
  let shadow = 0;
  for (const a of actions) {
    const mode = rules ? rules.find((r) => r.signal === a.signal && r.identity === a.identity.kind)?.mode : a.mode;
    if (mode === undefined) continue;
    if (mode === "Shadow") shadow += 1;
    else if (a.action === "Block") blocked += 1;
    else throttled += 1;
  }
  return { blocked, throttled, shadow };
}
