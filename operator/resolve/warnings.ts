import { WarningsReason } from "../api/v1alpha1/conditions.js";
import type { PolicySpec, Rule } from "../api/v1alpha1/policy.js";
import { templateVariables } from "../api/v1alpha1/rule.js";
import type { ConditionData } from "./conditions.js";
import { discoveryUrl } from "./oidc-discovery.js";

/** Something a valid policy says that is enforced, but probably not what its author means. */
export interface PolicyWarning {
  reason: string;
  message: string;
}

type Match = Rule["match"];

/** A template's segments with every variable written `{}`, so templates that differ only in names compare equal. */
function templateShape(template: string): string {
  return template.replace(/\{[^}]*\}/g, "{}");
}

/** A regular expression for the paths a template matches: each variable one whole, non-empty segment. */
function templateRegex(template: string): RegExp {
  const parts = template.split(/(\{[^}]*\})/).map((part) => (part.startsWith("{") ? "[^/]+" : part.replace(/[\\^$.|?*+()[\]{}]/g, (c) => `\\${c}`)));
  return new RegExp(`^${parts.join("")}$`);
}

/** The literal text every path a template matches starts with. */
function templateLiteralPrefix(template: string): string {
  const brace = template.indexOf("{");
  return brace < 0 ? template : template.slice(0, brace);
}

/** Why every path `later` matches is also matched by `earlier`; undefined when some path is not. */
function pathCovered(earlier: Match, later: Match): string | undefined {
  const exact = later.path ?? (later.pathTemplate !== undefined && templateVariables(later.pathTemplate).length === 0 ? later.pathTemplate : undefined);
  if (earlier.path !== undefined) {
    return exact === earlier.path ? `the same path ${earlier.path}` : undefined;
  }
  if (earlier.pathPrefix !== undefined) {
    const prefix = earlier.pathPrefix;
    const starts = later.path ?? later.pathPrefix ?? templateLiteralPrefix(later.pathTemplate ?? "");
    return starts.startsWith(prefix) ? `the prefix ${prefix}` : undefined;
  }
  const template = earlier.pathTemplate ?? "";
  if (exact !== undefined) return templateRegex(template).test(exact) ? `the template ${template}` : undefined;
  if (later.pathTemplate !== undefined && templateShape(later.pathTemplate) === templateShape(template)) return `the template ${template}`;
  return undefined;
}

/** Whether every method `later` matches is matched by `earlier` (no methods: any method). */
function methodsCovered(earlier: Match, later: Match): boolean {
  if (!earlier.methods) return true;
  if (!later.methods) return false;
  return later.methods.every((m) => earlier.methods?.includes(m));
}

/** Rules that can never apply: an earlier rule matches every request they match (first match wins). */
function shadowedRules(rules: readonly Rule[]): PolicyWarning[] {
  const warnings: PolicyWarning[] = [];
  for (const [j, later] of rules.entries()) {
    for (const earlier of rules.slice(0, j)) {
      if (!methodsCovered(earlier.match, later.match)) continue;
      const why = pathCovered(earlier.match, later.match);
      if (why === undefined) continue;
      const methods = earlier.match.methods ? `methods ${earlier.match.methods.join(", ")}` : "any method";
      warnings.push({
        reason: WarningsReason.ShadowedRule,
        message: `rule ${later.name} never applies: the earlier rule ${earlier.name} matches every request it matches (${why}, ${methods}), and the first matching rule wins; move it before ${earlier.name} or narrow ${earlier.name}`,
      });
      break;
    }
  }
  return warnings;
}

/** Where a provider's keys are fetched from, or found (the discovery document of jwks.oidcDiscovery). */
function jwksLocation(provider: { issuer: string; jwks: { remote?: { uri: string }; oidcDiscovery?: unknown } }): string | undefined {
  if (provider.jwks.oidcDiscovery) return discoveryUrl(provider.issuer);
  return provider.jwks.remote?.uri;
}

/** JWKS fetched over plain http: whoever is on the path can substitute keys and mint tokens. */
function plaintextJwks(spec: PolicySpec): PolicyWarning[] {
  const sources = [
    ...(spec.authentication?.jwt?.providers ?? []).map((p) => ({ what: `JWT provider ${p.name}`, uri: jwksLocation(p) })),
    { what: "app attestation", uri: spec.authentication?.appAttestation ? jwksLocation(spec.authentication.appAttestation) : undefined },
  ];
  return sources
    .filter((s): s is { what: string; uri: string } => s.uri?.startsWith("http://") === true)
    .map((s) => ({
      reason: WarningsReason.PlaintextJwksUri,
      message: `${s.what} fetches its signing keys over plain http (${s.uri}): anyone on the network path can replace them and mint tokens the sidecar accepts; use https`,
    }));
}

/** Every warning of a valid policy, in spec order. Pure. */
export function policyWarnings(spec: PolicySpec): PolicyWarning[] {
  return [...plaintextJwks(spec), ...shadowedRules(spec.rules ?? [])];
}

/** The Warnings condition: True with the first warning's reason and every message, or False. */
export function warningsCondition(warnings: readonly PolicyWarning[]): ConditionData {
  const first = warnings[0];
  if (!first) return { status: "False", reason: WarningsReason.NoWarnings, message: "Nothing in the policy looks unintended." };
  return { status: "True", reason: first.reason, message: warnings.map((w) => w.message).join("; ") };
}
