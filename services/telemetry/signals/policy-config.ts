import type { RouteIR } from "../../../contract/ir.js";
import type { AbuseSignalsSpec } from "../../../operator/api/v1alpha1/abuse-signals.js";
import { durationSeconds } from "../../../operator/api/v1alpha1/common.js";
import type { SignalKind } from "../../../contract/telemetry.js";
import { resolveTunables, type RoutePurpose, type SignalConfig, type SignalOverrides } from "./config.js";

/**
 * From a policy's `spec.abuseSignals` and its workload's IR routes to the SignalConfig the
 * detectors take. Pure; the lead's controller side calls it per workload.
 */

const ms = (duration: unknown): number => durationSeconds(String(duration)) * 1000;
const ratio = (percent: unknown): number => Number(percent) / 100;

/** The API's field names where they differ from the tunables' (durations become milliseconds, percentages ratios); others keep their names. */
const RENAMED: Record<string, [string, (value: unknown) => unknown]> = {
  cooldown: ["cooldownMs", ms],
  window: ["windowMs", ms],
  bucket: ["bucketMs", ms],
  baselineHalfLife: ["baselineHalfLifeMs", ms],
  failurePercent: ["failureRatio", ratio],
  declinePercent: ["declineRatio", ratio],
  notFoundOrForbiddenPercent: ["notFoundOrForbiddenRatio", ratio],
  allowedCountryPairs: ["allowedPairs", (pairs) => pairs],
};

const KINDS: Record<keyof AbuseSignalsSpec, SignalKind> = {
  failedAuthSpike: "FailedAuthSpike",
  credentialStuffing: "CredentialStuffing",
  cardTesting: "CardTesting",
  enumeration: "Enumeration",
  scraping: "Scraping",
  impossibleTravel: "ImpossibleTravel",
  replayedProof: "ReplayedProof",
  attestationFailure: "AttestationFailure",
};

/** The policy's tunables as overrides of the defaults; an absent field keeps its default. */
export function signalOverrides(spec: AbuseSignalsSpec | undefined): SignalOverrides {
  const overrides: Record<string, Record<string, unknown>> = {};
  for (const [key, block] of Object.entries(spec ?? {})) {
    const kind = KINDS[key as keyof AbuseSignalsSpec];
    if (!kind || !block) continue;
    const fields: Record<string, unknown> = {};
    for (const [field, value] of Object.entries(block as Record<string, unknown>)) {
      if (value === undefined) continue;
      const [name, convert] = RENAMED[field] ?? [field, (v: unknown) => v];
      fields[name] = convert(value);
    }
    overrides[kind] = fields;
  }
  return overrides;
}

/** The detectors' view of one workload: its routes' purposes and the policy's tunables. */
export function signalConfig(options: {
  workload: string;
  policy: { namespace: string; name: string };
  routes: readonly RouteIR[];
  abuseSignals?: AbuseSignalsSpec;
}): SignalConfig {
  const routePurposes: Record<string, RoutePurpose> = {};
  for (const route of options.routes) if (route.purpose) routePurposes[route.name] = route.purpose;
  return { workload: options.workload, policy: options.policy, routePurposes, tunables: resolveTunables(signalOverrides(options.abuseSignals)) };
}
