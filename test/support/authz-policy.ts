/** A mobile-API policy that needs bulwark authz on its routes: DPoP, ownership, attestation, app versions. */
import type { JWK } from "jose";
import type { TranslationInput } from "../../operator/resolve/objects.js";
import { jwksSecret, policy, service, sidecarPod } from "../../operator/testdata/objects.js";

export const AUTHZ_NS = "shop";
export const AUTHZ_POLICY = "mobile";
export const ISSUER = "https://id.example.com/";
export const ATTESTER = "https://attest.example.com/";
export const AUDIENCE = "shop-api";
export const APP_ID = "com.example.shop";

export const routeName = (rule: string): string => `apisecuritypolicy/${AUTHZ_NS}/${AUTHZ_POLICY}/rule/${rule}`;

export function authzPolicyInput(options: { idpJwks: { keys: JWK[] }; attestJwks: { keys: JWK[] }; ports?: { sidecar: number; app: number }; requireNonce?: boolean }): TranslationInput {
  return {
    policies: [
      policy({
        namespace: AUTHZ_NS,
        name: AUTHZ_POLICY,
        created: "2026-01-01T00:00:00Z",
        spec: {
          targetRefs: [{ kind: "Service", name: "shop-api" }],
          authentication: {
            jwt: {
              providers: [{ name: "idp", issuer: ISSUER, audiences: [AUDIENCE], jwks: { secretRef: { name: "idp-jwks" } } }],
              senderConstraint: { dpop: { required: true, maxProofAge: "60s", ...(options.requireNonce ? { requireNonce: true } : {}) } },
            },
            appAttestation: { issuer: ATTESTER, audiences: ["projects/shop"], appIds: [APP_ID], jwks: { secretRef: { name: "attest-jwks" } } },
          },
          mobile: { minAppVersion: { minimum: "3.0.0", platforms: { ios: "4.3.0", android: "4.2.1" } } },
          rules: [
            { name: "orders", match: { methods: ["GET"], pathTemplate: "/v1/users/{userId}/orders" }, ownership: { pathParam: "userId" } },
            { name: "checkout", match: { methods: ["POST"], path: "/v1/checkout" }, requireAppAttestation: true },
            { name: "health", match: { path: "/health" }, authentication: "None" },
          ],
        },
      }),
    ],
    services: [service(AUTHZ_NS, "shop-api", { app: "shop" })],
    pods: [sidecarPod(AUTHZ_NS, "shop-1", { app: "shop" }, options.ports ?? { sidecar: 15006, app: 8080 })],
    secrets: [jwksSecret(AUTHZ_NS, "idp-jwks", options.idpJwks), jwksSecret(AUTHZ_NS, "attest-jwks", options.attestJwks)],
    namespaces: [],
    now: new Date().toISOString(),
  };
}
