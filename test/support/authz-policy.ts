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

export function authzPolicyInput(options: {
  idpJwks: { keys: JWK[] };
  attestJwks: { keys: JWK[] };
  ports?: { sidecar: number; app: number };
  requireNonce?: boolean;
}): TranslationInput {
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
    now: new Date().toISOString(),
  };
}

export const RSA_ISSUER = "https://rsa-id.example.com/";
/** The namespaces of the corpus's three policies (each named AUTHZ_POLICY). */
export const CORPUS_NS = { shop: AUTHZ_NS, nonce: "wallet", bank: "bank" } as const;
/** Maximum access-token lifetime (exp - iat) and clock skew of the corpus's providers. */
export const MAX_TOKEN_AGE_SECONDS = 600;
export const CLOCK_SKEW_SECONDS = 5;

/** Verdicts the shop's attestation must carry (appAttestation.requiredClaims). */
export const ATTESTATION_VERDICTS = { "deviceIntegrity.deviceRecognitionVerdict": ["MEETS_DEVICE_INTEGRITY"] };

export const corpusRouteName = (ns: string, rule: string): string => `apisecuritypolicy/${ns}/${AUTHZ_POLICY}/rule/${rule}`;

export interface CorpusKeys {
  idpJwks: { keys: JWK[] };
  rsaJwks: { keys: JWK[] };
  attestJwks: { keys: JWK[] };
}

/**
 * The corpus's policies, one sidecar each, all in front of the same app:
 * - shop: DPoP required (two providers, one ES256 and one RS256; maximum token age; small clock
 *   skew), single-use attestation with a device-integrity verdict on checkout, ownership on
 *   orders, minimum app versions, public pages after the protected rules;
 * - wallet: DPoP with server nonces, on a backend that matches paths exactly (case, trailing slash);
 * - bank: certificate-bound tokens (RFC 8705) on a TLS listener that asks for client certificates.
 */
export function corpusPolicyInput(keys: CorpusKeys, ports: { shop: number; wallet: number; bank: number; app: number }): TranslationInput {
  const provider = (name: string, issuer: string, secret: string): Record<string, unknown> => ({
    name,
    issuer,
    audiences: [AUDIENCE],
    jwks: { secretRef: { name: secret } },
    maxTokenAge: `${MAX_TOKEN_AGE_SECONDS}s`,
    clockSkew: `${CLOCK_SKEW_SECONDS}s`,
  });
  const ns = CORPUS_NS;
  return {
    policies: [
      policy({
        namespace: ns.shop,
        name: AUTHZ_POLICY,
        created: "2026-01-01T00:00:00Z",
        spec: {
          targetRefs: [{ kind: "Service", name: "shop-api" }],
          authentication: {
            jwt: { providers: [provider("idp", ISSUER, "idp-jwks"), provider("rsa", RSA_ISSUER, "rsa-jwks")], senderConstraint: { dpop: { required: true, maxProofAge: "60s" } } },
            appAttestation: {
              issuer: ATTESTER,
              audiences: ["projects/shop"],
              appIds: [APP_ID],
              jwks: { secretRef: { name: "attest-jwks" } },
              maxTokenAge: "1h",
              singleUse: true,
              requiredClaims: ATTESTATION_VERDICTS,
            },
          },
          mobile: { minAppVersion: { minimum: "3.0.0", platforms: { ios: "4.3.0", android: "4.2.1" } } },
          rules: [
            { name: "orders", match: { methods: ["GET"], pathTemplate: "/v1/users/{userId}/orders" }, ownership: { pathParam: "userId" } },
            { name: "checkout", match: { methods: ["POST"], path: "/v1/checkout" }, requireAppAttestation: true },
            { name: "cart", match: { methods: ["GET", "PUT", "DELETE"], pathPrefix: "/v1/cart" } },
            { name: "health", match: { path: "/health" }, authentication: "None" },
            // Public pages: what a request lands on when it slips past the protected rules above.
            { name: "public", match: { pathPrefix: "/" }, authentication: "None" },
          ],
        },
      }),
      policy({
        namespace: ns.nonce,
        name: AUTHZ_POLICY,
        created: "2026-01-01T00:00:00Z",
        spec: {
          targetRefs: [{ kind: "Service", name: "wallet-api" }],
          authentication: { jwt: { providers: [provider("idp", ISSUER, "idp-jwks")], senderConstraint: { dpop: { required: true, maxProofAge: "60s", requireNonce: true } } } },
          // A backend that tells /v1/BALANCE and /v1/balance/ from /v1/balance.
          backendMatching: { caseSensitive: true, trailingSlash: "Strict" },
          rules: [{ name: "balance", match: { methods: ["GET"], path: "/v1/balance" } }],
        },
      }),
      policy({
        namespace: ns.bank,
        name: AUTHZ_POLICY,
        created: "2026-01-01T00:00:00Z",
        spec: {
          targetRefs: [{ kind: "Service", name: "bank-api" }],
          tls: { minVersion: "TLSv1.2", mtls: "Permissive" },
          authentication: { jwt: { providers: [provider("idp", ISSUER, "idp-jwks")], senderConstraint: { mtls: { required: true } } } },
          rules: [{ name: "accounts", match: { methods: ["GET"], pathPrefix: "/v1/accounts" } }],
        },
      }),
    ],
    services: [service(ns.shop, "shop-api", { app: "shop" }), service(ns.nonce, "wallet-api", { app: "wallet" }), service(ns.bank, "bank-api", { app: "bank" })],
    pods: [
      sidecarPod(ns.shop, "shop-1", { app: "shop" }, { sidecar: ports.shop, app: ports.app }),
      sidecarPod(ns.nonce, "wallet-1", { app: "wallet" }, { sidecar: ports.wallet, app: ports.app }),
      sidecarPod(ns.bank, "bank-1", { app: "bank" }, { sidecar: ports.bank, app: ports.app }),
    ],
    secrets: [
      jwksSecret(ns.shop, "idp-jwks", keys.idpJwks),
      jwksSecret(ns.shop, "rsa-jwks", keys.rsaJwks),
      jwksSecret(ns.shop, "attest-jwks", keys.attestJwks),
      jwksSecret(ns.nonce, "idp-jwks", keys.idpJwks),
      jwksSecret(ns.bank, "idp-jwks", keys.idpJwks),
    ],
    now: new Date().toISOString(),
  };
}
