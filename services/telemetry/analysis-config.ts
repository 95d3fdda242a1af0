import type { AdaptiveRuleIR } from "../../contract/ir.js";
import type { Translation } from "../../operator/translate/translate.js";
import type { InventoryWorkload } from "./inventory/pipeline.js";
import type { SignalConfig } from "./signals/config.js";
import { signalConfig } from "./signals/policy-config.js";

/** Where a policy's OpenAPI document is (spec.apiInventory.openAPI). */
export interface OpenApiSource {
  configMap?: { name: string; key: string };
  url?: string;
}

/** A policy bulwark telemetry reports on: where its status and APIInventory go. */
export interface ReportedPolicy {
  namespace: string;
  name: string;
  uid?: string;
  generation: number;
  /** Its adaptive response rules (the same on every workload of the policy); empty: signals act on nobody. */
  adaptiveRules: readonly AdaptiveRuleIR[];
  openApi?: OpenApiSource;
}

/** What one translation tells the telemetry service. */
export interface TelemetryTranslation {
  /** Governed workloads, sorted by name. */
  workloads: InventoryWorkload[];
  signalConfigs: Map<string, SignalConfig>;
  /** By `<namespace>/<name>`, sorted; only accepted policies that govern a workload. */
  policies: Map<string, ReportedPolicy>;
}

export const policyKeyOf = (p: { namespace: string; name: string }): string => `${p.namespace}/${p.name}`;

/** The telemetry service's view of a translation (pure). */
export function telemetryTranslation(translation: Translation, uids: ReadonlyMap<string, string> = new Map()): TelemetryTranslation {
  const specs = new Map(translation.resolution.policies.map((p) => [policyKeyOf(p), p]));
  const workloads: InventoryWorkload[] = [];
  const signalConfigs = new Map<string, SignalConfig>();
  const policies = new Map<string, ReportedPolicy>();
  for (const w of translation.ir.workloads) {
    if (!w.policy) continue;
    const key = policyKeyOf(w.policy);
    const spec = specs.get(key)?.policy?.spec;
    workloads.push({ name: w.name, routes: w.routes, policy: w.policy });
    const policy = { namespace: w.policy.namespace, name: w.policy.name };
    signalConfigs.set(w.name, signalConfig({ workload: w.name, policy, routes: w.routes, ...(spec?.abuseSignals ? { abuseSignals: spec.abuseSignals } : {}) }));
    if (!policies.has(key)) {
      const uid = uids.get(key);
      const openApi = spec?.apiInventory?.openAPI;
      policies.set(key, {
        ...policy,
        ...(uid ? { uid } : {}),
        generation: w.policy.generation,
        adaptiveRules: w.adaptive?.rules ?? [],
        ...(openApi ? { openApi } : {}),
      });
    }
  }
  return { workloads, signalConfigs, policies: new Map([...policies].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) };
}
