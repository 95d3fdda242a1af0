/** Random valid APISecurityPolicies (fast-check), for property tests and benchmarks. */
import fc from "fast-check";
import type { TranslationInput } from "../resolve/objects.js";
import { policy, service, sidecarPod } from "./objects.js";

const durations = ["1s", "30s", "1m", "5m", "15m", "1h", "24h"];
const templates: { template: string; vars: string[] }[] = [
  { template: "/v1/users/{userId}/orders/{orderId}", vars: ["userId", "orderId"] },
  { template: "/v1/accounts/{accountId}", vars: ["accountId"] },
  { template: "/v2/{tenant}/items/{itemId}/", vars: ["tenant", "itemId"] },
];

interface Shape {
  providers: number;
  sender: "none" | "dpop" | "mtls";
  attestation: boolean;
}

function ruleArbitrary(index: number, shape: Shape): fc.Arbitrary<Record<string, unknown>> {
  const auth = shape.providers > 0 ? fc.constantFrom("Required", "Optional", "None", "APIKey") : fc.constantFrom("None", "APIKey");
  return fc
    .record({
      kind: fc.constantFrom("path", "pathPrefix", "pathTemplate"),
      segment: fc.constantFrom("orders", "images", "login", "catalog", "v1/x"),
      template: fc.constantFrom(...templates),
      methods: fc.subarray(["GET", "POST", "PUT", "DELETE"], { minLength: 0, maxLength: 3 }),
      authentication: auth,
      scopes: fc.subarray(["orders:read", "orders:write", "admin"], { minLength: 0, maxLength: 2 }),
      claim: fc.option(fc.constantFrom("role", "tenant"), { nil: undefined }),
      ownership: fc.boolean(),
      shadowAuthorization: fc.boolean(),
      attest: fc.boolean(),
      maxRequestBytes: fc.option(fc.integer({ min: 1, max: 67_108_864 }), { nil: undefined }),
      global: fc.option(
        fc.record({
          requests: fc.integer({ min: 1, max: 100_000 }),
          per: fc.constantFrom(...durations),
          keys: fc.subarray(["clientIP", "header:x-device-id", "claim:sub", "pathParam"], { minLength: 1, maxLength: 3 }),
          counts: fc.boolean(),
          mode: fc.constantFrom("Enforce", "Shadow"),
          failureMode: fc.constantFrom("Allow", "Deny"),
          responseHeaders: fc.constantFrom("Standard", "None"),
        }),
        { nil: undefined },
      ),
      clientCIDRs: fc.option(fc.constantFrom({ allow: ["203.0.113.0/24", "2001:db8::/32"] }, { deny: ["198.51.100.0/24"] }, { allow: ["10.0.0.0/8"], deny: ["10.66.0.0/16"] }), {
        nil: undefined,
      }),
      local: fc.option(fc.record({ requests: fc.integer({ min: 1, max: 10_000 }), per: fc.constantFrom(...durations), mode: fc.constantFrom("Enforce", "Shadow") }), {
        nil: undefined,
      }),
    })
    .map((r) => {
      const match: Record<string, unknown> =
        r.kind === "path" ? { path: `/${r.segment}` } : r.kind === "pathPrefix" ? { pathPrefix: `/${r.segment}/` } : { pathTemplate: r.template.template };
      if (r.methods.length) match.methods = r.methods;
      const rule: Record<string, unknown> = { name: `r${index}`, match, authentication: r.authentication };
      const authenticated = r.authentication === "Required" || r.authentication === "Optional";
      if (authenticated && (r.scopes.length || r.claim)) {
        rule.require = { ...(r.scopes.length ? { scopes: r.scopes } : {}), ...(r.claim ? { claims: { [r.claim]: ["a", "b"] } } : {}) };
      }
      const vars = r.kind === "pathTemplate" ? r.template.vars : [];
      if (r.ownership && r.authentication === "Required" && vars[0]) rule.ownership = { pathParam: vars[0] };
      if (r.shadowAuthorization && (rule.require !== undefined || rule.ownership !== undefined)) rule.authorizationMode = "Shadow";
      if (r.attest && shape.attestation && r.authentication !== "APIKey") rule.requireAppAttestation = true;
      if (r.maxRequestBytes !== undefined) rule.maxRequestBytes = r.maxRequestBytes;
      // purpose (abuse signals) derived from values already drawn, so the random stream of older fields is unchanged
      if (r.segment === "login") rule.purpose = "Login";
      else if (r.segment === "orders" && r.methods.includes("POST")) rule.purpose = "Payment";
      if (r.clientCIDRs) rule.clientCIDRs = r.clientCIDRs;
      const limits: Record<string, unknown>[] = [];
      if (r.global) {
        const key = r.global.keys.map((k) => (k === "pathParam" ? (vars[0] ? `pathParam:${vars[0]}` : "clientIP") : k)).filter((k) => authenticated || !k.startsWith("claim:"));
        const unique = [...new Set(key.length ? key : ["clientIP"])];
        limits.push({
          name: "g",
          key: unique,
          limit: { requests: r.global.requests, per: r.global.per },
          ...(r.global.counts ? { counts: { responseCodes: [401, 403] } } : {}),
          mode: r.global.mode,
          failureMode: r.global.failureMode,
          responseHeaders: r.global.responseHeaders,
        });
      }
      if (r.local) limits.push({ name: "l", scope: "Local", limit: { requests: r.local.requests, per: r.local.per }, mode: r.local.mode });
      if (limits.length) rule.rateLimits = limits;
      return rule;
    });
}

/** A random policy spec that the schema accepts (callers still parse it, to be sure). */
export const policySpecArbitrary: fc.Arbitrary<Record<string, unknown>> = fc
  .record({ providers: fc.integer({ min: 0, max: 2 }), sender: fc.constantFrom<Shape["sender"]>("none", "dpop", "mtls"), attestation: fc.boolean() })
  .chain((shape) =>
    fc
      .record({
        ruleCount: fc.integer({ min: 0, max: 6 }),
        jwksSource: fc.constantFrom("remote", "secretRef", "oidcDiscovery"),
        maxTokenAge: fc.option(fc.constantFrom("5m", "30m", "24h"), { nil: undefined }),
        defaultAction: fc.constantFrom("Deny", "Allow"),
        tls: fc.option(fc.record({ minVersion: fc.constantFrom("TLSv1.2", "TLSv1.3"), mtls: fc.constantFrom("Disabled", "Permissive", "Strict") }), { nil: undefined }),
        publicCertificate: fc.option(fc.record({ hsts: fc.boolean(), minVersion: fc.option(fc.constantFrom("TLSv1.2", "TLSv1.3"), { nil: undefined }) }), { nil: undefined }),
        minAppVersion: fc.boolean(),
        compression: fc.option(fc.subarray(["brotli", "gzip"], { minLength: 1 }), { nil: undefined }),
        clientAddress: fc.option(
          fc.constantFrom(
            { trustedHops: 0 },
            { trustedHops: 2 },
            { trustedHops: 1, trustedCIDRs: ["10.0.0.0/8"] },
            { header: "X-Real-IP", trustedCIDRs: ["10.0.0.0/8", "fd00::/8"] },
          ),
          { nil: undefined },
        ),
        cors: fc.option(
          fc.record({
            allowOrigins: fc.subarray(
              ["https://shop.example.com", "http://localhost:3000", "https://*.preview.example.com", `https://*.${"preview-x.".repeat(6)}pre.example.com:8443`],
              { minLength: 1 },
            ),
            allowMethods: fc.subarray(["GET", "POST", "PUT", "DELETE", "OPTIONS"], { minLength: 1 }),
            allowHeaders: fc.subarray(["Authorization", "DPoP", "Content-Type"]),
            maxAge: fc.option(fc.constantFrom("1s", "10m", "24h"), { nil: undefined }),
          }),
          { nil: undefined },
        ),
        deprecation: fc.option(fc.record({ prefix: fc.constantFrom("/v1/", "/v2/", "/"), sunsetYear: fc.integer({ min: 2025, max: 2030 }) }), { nil: undefined }),
        adaptive: fc.option(fc.record({ identity: fc.constantFrom("ClientAddress", "Device", "Account"), throttle: fc.boolean(), shadow: fc.boolean() }), { nil: undefined }),
      })
      .chain((p) =>
        fc.tuple(...Array.from({ length: p.ruleCount }, (_, i) => ruleArbitrary(i, shape))).map((rules) => {
          const providers = Array.from({ length: shape.providers }, (_, i) => ({
            name: `idp${i}`,
            issuer: `https://id${i}.example.com/`,
            audiences: ["api"],
            jwks:
              p.jwksSource === "remote"
                ? { remote: { uri: `https://id${i}.example.com/jwks` } }
                : p.jwksSource === "oidcDiscovery"
                  ? { oidcDiscovery: { cacheDuration: "10m" } }
                  : { secretRef: { name: `jwks-${i}` } },
            ...(p.maxTokenAge ? { maxTokenAge: p.maxTokenAge } : {}),
            claimsToHeaders: [{ claim: "sub", header: "x-user" }],
          }));
          const authentication: Record<string, unknown> = {};
          if (providers.length) {
            authentication.jwt = {
              providers,
              ...(shape.sender === "dpop" ? { senderConstraint: { dpop: { required: true } } } : shape.sender === "mtls" ? { senderConstraint: { mtls: { required: true } } } : {}),
            };
          }
          if (shape.attestation) {
            authentication.appAttestation = {
              issuer: "https://attest.example.com/",
              jwks: { remote: { uri: "https://attest.example.com/jwks" } },
              audiences: ["projects/1"],
              appIds: ["app"],
            };
          }
          if (rules.some((r) => r.authentication === "APIKey")) authentication.apiKeys = { secretRef: { name: "partner-keys" } };
          const mobile: Record<string, unknown> = {};
          if (p.minAppVersion) mobile.minAppVersion = { minimum: "4.2.0", platforms: { ios: "4.3.0" } };
          if (p.compression) mobile.compression = { algorithms: p.compression };
          if (p.deprecation)
            mobile.deprecations = [{ pathPrefix: p.deprecation.prefix, deprecatedAt: `${p.deprecation.sunsetYear - 1}-06-01`, sunsetAt: `${p.deprecation.sunsetYear}-01-01` }];
          // Certificate-bound tokens need client certificates: mTLS Permissive or Strict.
          const meshTls =
            providers.length && shape.sender === "mtls" ? { minVersion: p.tls?.minVersion ?? "TLSv1.3", mtls: p.tls?.mtls === "Permissive" ? "Permissive" : "Strict" } : p.tls;
          // A public certificate needs mtls Disabled (its Secret is absent from inputFor: the listener refuses connections).
          const publicTls =
            p.publicCertificate && !(providers.length && shape.sender === "mtls")
              ? {
                  ...(p.publicCertificate.minVersion ? { minVersion: p.publicCertificate.minVersion } : {}),
                  certificate: { secretRef: { name: "public-tls" } },
                  ...(p.publicCertificate.hsts ? { hsts: { maxAge: "8760h", includeSubDomains: true, preload: true } } : {}),
                }
              : undefined;
          const tls = publicTls ?? meshTls;
          return {
            ...(Object.keys(authentication).length ? { authentication } : {}),
            ...(rules.length ? { rules } : {}),
            defaultAction: p.defaultAction,
            ...(tls ? { tls } : {}),
            ...(Object.keys(mobile).length ? { mobile } : {}),
            ...(p.clientAddress ? { clientAddress: p.clientAddress } : {}),
            ...(p.cors ? { cors: Object.fromEntries(Object.entries(p.cors).filter(([, v]) => v !== undefined)) } : {}),
            ...(p.adaptive ? { adaptiveResponse: adaptiveResponseOf(p.adaptive, providers.length > 0), telemetry: { enabled: true } } : {}),
          };
        }),
      ),
  );

/** An adaptiveResponse with one rule (an Account rule needs JWT: the client address instead without it). */
function adaptiveResponseOf(a: { identity: string; throttle: boolean; shadow: boolean }, jwt: boolean): Record<string, unknown> {
  const identity = a.identity === "Account" && !jwt ? "ClientAddress" : a.identity;
  return {
    ...(identity === "Device" ? { deviceHeader: "X-Device-Id" } : {}),
    rules: [
      {
        signal: "CredentialStuffing",
        identity,
        action: a.throttle ? "Throttle" : "Block",
        duration: "15m",
        ...(a.throttle ? { limit: { requests: 10, per: "1m" } } : {}),
        mode: a.shadow ? "Shadow" : "Enforce",
      },
    ],
  };
}

/** A translation input: one Service with one sidecar pod, governed by a policy with `spec`. */
export function inputFor(spec: Record<string, unknown>, index = 0): TranslationInput {
  const name = `svc-${index}`;
  return {
    policies: [policy({ name: `p-${index}`, created: "2026-01-01T00:00:00Z", spec: { targetRefs: [{ kind: "Service", name }], ...spec } })],
    services: [service("shop", name, { app: name })],
    pods: [sidecarPod("shop", `${name}-pod`, { app: name })],
    secrets: [],
    now: "2026-11-25T12:00:00Z",
  };
}
