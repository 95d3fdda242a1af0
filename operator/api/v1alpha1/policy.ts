import { z } from "zod";
import { abuseSignals } from "./abuse-signals.js";
import { apiInventorySettings } from "./api-inventory-source.js";
import { adaptiveResponse } from "./adaptive-response.js";
import { authentication } from "./authentication.js";
import { clientAddress } from "./client-address.js";
import { cors } from "./cors.js";
import { backendMatching } from "./backend-matching.js";
import { mobile } from "./mobile.js";
import { rule } from "./rule.js";
import { policyStatus } from "./status.js";
import { podSelector, targetRef } from "./targets.js";
import { telemetry } from "./telemetry.js";
import { tls } from "./tls.js";
import { withRules } from "./validation.js";

export const group = "bulwark.dev";
export const version = "v1alpha1";
export const apiVersion = `${group}/${version}`;
export const kind = "APISecurityPolicy";
export const plural = "apisecuritypolicies";

export const policySpec = withRules(
  z
    .object({
      targetRefs: withRules(
        z.array(targetRef).min(1).max(16),
        {
          description: "Services whose pods' sidecars enforce the policy. Set targetRefs or podSelector, not both.",
          "x-kubernetes-list-type": "map",
          "x-kubernetes-list-map-keys": ["kind", "name"],
        },
        [
          {
            cel: "self.all(t, self.exists_one(o, o.kind == t.kind && o.name == t.name))",
            message: "each target may be listed once",
            holds: (v) => new Set(v.map((t) => `${t.kind}/${t.name}`)).size === v.length,
          },
        ],
      ).optional(),
      podSelector: podSelector.optional(),
      authentication: authentication.optional(),
      rules: z.array(rule).max(32).optional().meta({
        description: "Ordered rules; the first whose match fits a request applies, and defaultAction covers requests no rule matches.",
        "x-kubernetes-list-type": "atomic",
      }),
      defaultAction: z
        .enum(["Deny", "Allow"])
        .default("Deny")
        .describe("What happens to requests no rule matches: Deny (404, so unlisted shadow endpoints are not reachable) or Allow."),
      tls: tls.optional(),
      mobile: mobile.optional(),
      clientAddress: clientAddress.optional(),
      cors: cors.optional(),
      // request meaning (backend-matching.ts)
      backendMatching: backendMatching.optional(),
      // abuse signals computed by bulwark telemetry (abuse-signals.ts)
      abuseSignals: abuseSignals.optional(),
      // API inventory (api-inventory-source.ts)
      apiInventory: apiInventorySettings.optional(),
      adaptiveResponse: adaptiveResponse.optional(),
      telemetry: telemetry.optional(),
    })
    .strict(),
  "What the backend needs: which workloads, how callers authenticate, per-route rules, TLS and mobile practices.",
  [
    {
      cel: "has(self.targetRefs) != has(self.podSelector)",
      message: "set exactly one of targetRefs or podSelector",
      holds: (v) => (v.targetRefs !== undefined) !== (v.podSelector !== undefined),
    },
    {
      cel: "!has(self.rules) || self.rules.all(r, self.rules.exists_one(o, o.name == r.name))",
      message: "rule names must be unique",
      fieldPath: ".rules",
      holds: (v) => v.rules === undefined || new Set(v.rules.map((r) => r.name)).size === v.rules.length,
    },
    {
      cel: "!has(self.rules) || self.rules.all(r, r.authentication in ['None', 'APIKey']) || (has(self.authentication) && has(self.authentication.jwt))",
      message: "rules with authentication Required or Optional (Required is the default) need spec.authentication.jwt; set authentication: None on public rules",
      fieldPath: ".rules",
      holds: (v) => (v.rules ?? []).every((r) => r.authentication === "None" || r.authentication === "APIKey") || v.authentication?.jwt !== undefined,
    },
    {
      cel: "!has(self.rules) || has(self.adaptiveResponse) || self.rules.all(r, !has(r.authzTimeoutMs) || r.authentication == 'APIKey' || r.requireAppAttestation || has(r.ownership) || (has(self.mobile) && has(self.mobile.minAppVersion)) || (r.authentication != 'None' && has(self.authentication) && has(self.authentication.jwt) && ((has(self.authentication.jwt.senderConstraint) && (has(self.authentication.jwt.senderConstraint.dpop) || has(self.authentication.jwt.senderConstraint.mtls))) || self.authentication.jwt.providers.exists(p, has(p.maxTokenAge)))))",
      message:
        "authzTimeoutMs applies only to rules bulwark authz checks: DPoP or certificate binding, maxTokenAge (on rules that authenticate), requireAppAttestation, ownership, mobile.minAppVersion, authentication APIKey or adaptiveResponse (every rule)",
      fieldPath: ".rules",
      holds: (v) =>
        v.adaptiveResponse !== undefined ||
        (v.rules ?? []).every((r) => {
          if (r.authzTimeoutMs === undefined || r.authentication === "APIKey" || r.requireAppAttestation || r.ownership !== undefined || v.mobile?.minAppVersion !== undefined)
            return true;
          const jwt = v.authentication?.jwt;
          if (r.authentication === "None" || !jwt) return false;
          return jwt.senderConstraint?.dpop !== undefined || jwt.senderConstraint?.mtls !== undefined || jwt.providers.some((p) => p.maxTokenAge !== undefined);
        }),
    },
    {
      cel: "!has(self.authentication) || !has(self.authentication.jwt) || !has(self.authentication.jwt.senderConstraint) || !has(self.authentication.jwt.senderConstraint.mtls) || (has(self.tls) && self.tls.mtls != 'Disabled')",
      message:
        "authentication.jwt.senderConstraint.mtls (certificate-bound tokens) needs spec.tls with mtls Permissive or Strict: without a client certificate on the connection no token can be checked against one",
      fieldPath: ".authentication.jwt.senderConstraint.mtls",
      holds: (v) => v.authentication?.jwt?.senderConstraint?.mtls === undefined || (v.tls !== undefined && v.tls.mtls !== "Disabled"),
    },
    {
      cel: "!has(self.rules) || !self.rules.exists(r, has(r.callers)) || (has(self.tls) && self.tls.mtls != 'Disabled')",
      message: "rules with callers need spec.tls with mtls Permissive or Strict: a caller's identity is the mesh certificate it presents",
      fieldPath: ".rules",
      holds: (v) => !(v.rules ?? []).some((r) => r.callers !== undefined) || (v.tls !== undefined && v.tls.mtls !== "Disabled"),
    },
    {
      cel: "!has(self.rules) || !self.rules.exists(r, r.requireAppAttestation) || (has(self.authentication) && has(self.authentication.appAttestation))",
      message: "rules with requireAppAttestation need spec.authentication.appAttestation",
      fieldPath: ".rules",
      holds: (v) => !(v.rules ?? []).some((r) => r.requireAppAttestation) || v.authentication?.appAttestation !== undefined,
    },
    {
      cel: "!has(self.rules) || !self.rules.exists(r, r.authentication == 'APIKey') || (has(self.authentication) && has(self.authentication.apiKeys))",
      message: "rules with authentication APIKey need spec.authentication.apiKeys",
      fieldPath: ".rules",
      holds: (v) => !(v.rules ?? []).some((r) => r.authentication === "APIKey") || v.authentication?.apiKeys !== undefined,
    },
    {
      cel: "!has(self.adaptiveResponse) || (has(self.telemetry) && self.telemetry.enabled)",
      message: "adaptiveResponse acts on abuse signals, which bulwark telemetry finds in the policy's traffic: set spec.telemetry (enabled)",
      fieldPath: ".adaptiveResponse",
      holds: (v) => v.adaptiveResponse === undefined || v.telemetry?.enabled === true,
    },
    {
      cel: "!has(self.adaptiveResponse) || !has(self.adaptiveResponse.deviceHeader) || !has(self.telemetry) || !has(self.telemetry.deviceHeader) || self.adaptiveResponse.deviceHeader.lowerAscii() == self.telemetry.deviceHeader.lowerAscii()",
      message:
        "adaptiveResponse.deviceHeader and telemetry.deviceHeader name different headers: signals would flag devices by one and blocks look them up by the other; set the same header (or only one: the other follows it)",
      fieldPath: ".adaptiveResponse.deviceHeader",
      holds: (v) =>
        v.adaptiveResponse?.deviceHeader === undefined ||
        v.telemetry?.deviceHeader === undefined ||
        v.adaptiveResponse.deviceHeader.toLowerCase() === v.telemetry.deviceHeader.toLowerCase(),
    },
    {
      cel: "!has(self.adaptiveResponse) || !self.adaptiveResponse.rules.exists(r, r.identity == 'Account') || (has(self.authentication) && has(self.authentication.jwt))",
      message: "adaptiveResponse rules with identity Account need spec.authentication.jwt: an account is the verified token's sub",
      fieldPath: ".adaptiveResponse.rules",
      holds: (v) => !(v.adaptiveResponse?.rules ?? []).some((r) => r.identity === "Account") || v.authentication?.jwt !== undefined,
    },
  ],
);

export const objectMeta = z
  .object({
    name: z.string(),
    namespace: z.string().default("default"),
    uid: z.string().optional(),
    generation: z.number().int().optional(),
    resourceVersion: z.string().optional(),
    creationTimestamp: z.union([z.string(), z.date()]).optional(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
  })
  .loose();

export const apiSecurityPolicy = z
  .object({
    apiVersion: z.literal(apiVersion),
    kind: z.literal(kind),
    metadata: objectMeta,
    spec: policySpec,
    status: policyStatus.optional(),
  })
  .strict();

export type APISecurityPolicy = z.output<typeof apiSecurityPolicy>;
export type APISecurityPolicyInput = z.input<typeof apiSecurityPolicy>;
export type PolicySpec = z.output<typeof policySpec>;
export type PolicyStatus = z.output<typeof policyStatus>;
export type Rule = PolicySpec extends { rules?: (infer R)[] } ? R : never;
