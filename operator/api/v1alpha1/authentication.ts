import { z } from "zod";
import { boundedDuration, claimName, claimValues, dnsLabel, dnsSubdomain, httpHeaderName, issuerUrlPattern, jwksSecretRef, jwksUri, visibleAscii } from "./common.js";
import { patternString, setList, withRules } from "./validation.js";

export const jwksSource = withRules(
  z
    .object({
      remote: z
        .object({
          uri: jwksUri(
            "URL of the JSON Web Key Set, fetched by the sidecar and by bulwark authz. https is expected: a plain http URL works but is reported in the Warnings condition, since keys fetched without TLS can be replaced on the way.",
          ),
          cacheDuration: boundedDuration({ description: "How long fetched keys are cached before they are fetched again.", min: "30s", max: "24h" }).default("5m"),
        })
        .strict()
        .meta({ description: "Keys fetched from the issuer's JWKS endpoint." })
        .optional(),
      secretRef: jwksSecretRef.optional(),
      oidcDiscovery: z
        .object({
          cacheDuration: boundedDuration({
            description:
              "How long fetched keys are cached before they are fetched again, and how often the discovery document is fetched again (a changed jwks_uri reaches the sidecars then).",
            min: "30s",
            max: "24h",
          }).default("5m"),
        })
        .strict()
        .meta({
          description:
            "Keys found through OpenID Connect Discovery: the controller and bulwark authz fetch <issuer>/.well-known/openid-configuration (the issuer must then be an http:// or https:// URL), check that the document's `issuer` is exactly the configured issuer, and fetch keys from its `jwks_uri` (https unless the issuer itself is http). The document is fetched again every cacheDuration; a failed fetch keeps the last good jwks_uri, and until one succeeds the provider's tokens are refused and ResolvedRefs is False.",
        })
        .optional(),
    })
    .strict(),
  "Where the signing keys come from: exactly one of remote, secretRef or oidcDiscovery.",
  [
    {
      cel: "[has(self.remote), has(self.secretRef), has(self.oidcDiscovery)].filter(x, x).size() == 1",
      message: "set exactly one of remote, secretRef or oidcDiscovery",
      holds: (v) => [v.remote, v.secretRef, v.oidcDiscovery].filter((x) => x !== undefined).length === 1,
    },
  ],
);

/** With jwks.oidcDiscovery, the issuer is where the discovery document is: a URL without query or fragment (OpenID Connect Discovery 1.0, section 4). */
export const discoverableIssuerRule = {
  cel: `!has(self.jwks.oidcDiscovery) || self.issuer.matches(r"${issuerUrlPattern.source}")`,
  message:
    "with jwks.oidcDiscovery the issuer must be an http:// or https:// URL with a DNS name or IPv4 address, an optional port and a path, without query or fragment: the discovery document is fetched from <issuer>/.well-known/openid-configuration",
  fieldPath: ".issuer",
  holds: (v: { issuer: string; jwks: { oidcDiscovery?: unknown } }): boolean => v.jwks.oidcDiscovery === undefined || issuerUrlPattern.test(v.issuer),
};

const audiences = setList(
  patternString({ pattern: visibleAscii, maxLength: 256, message: "must be a non-empty audience: printable ASCII without spaces", description: "An accepted audience." }),
  {
    min: 1,
    max: 16,
    description: "Accepted values of the token's `aud` claim; a token must carry at least one of them. Required, so a token minted for another API is never accepted.",
  },
);

export const jwtProvider = withRules(
  z
    .object({
      name: dnsLabel("Name of the provider, unique within the policy; used in generated names and refusal reasons."),
      issuer: patternString({
        pattern: visibleAscii,
        maxLength: 512,
        message: "must be the issuer identifier (the `iss` claim): printable ASCII without spaces",
        description: "Required value of the token's `iss` claim.",
      }),
      audiences,
      jwks: jwksSource,
      maxTokenAge: boundedDuration({
        description:
          "Short-lived tokens only: refuse tokens issued (`iat`) longer ago than this, and tokens whose lifetime (exp - iat) is longer, whatever `exp` says; a stolen token is worth little for little time. Tokens must then carry `iat` (not in the future). Envoy bounds exp - now; bulwark authz checks `iat` on the routes that authenticate with this provider. At most 24h.",
        min: "1m",
        max: "24h",
      }).optional(),
      clockSkew: boundedDuration({
        description: "Tolerance applied to `exp`, `nbf` and `iat` for clocks that disagree, from 1s to 5m (Envoy reads 0 as its default of 60s, so 0 is not offered).",
        min: "1s",
        max: "5m",
      }).default("60s"),
      claimsToHeaders: z
        .array(
          z
            .object({
              claim: claimName(
                "Claim of the verified token; a dotted path reaches into objects (address.country). Strings, numbers and booleans arrive as text, arrays and objects as the base64 of their JSON (jwt_authn's encoding). A claim whose own name has a dot (https://example.com/roles) cannot be copied: the dots are read as a path.",
              ),
              header: httpHeaderName("Request header the backend receives the claim in; any value the client sent in it is replaced."),
            })
            .strict()
            .meta({ description: "Copy one claim of the verified token into a request header." }),
        )
        .max(16)
        .optional()
        .meta({ description: "Claims copied into request headers for the backend.", "x-kubernetes-list-type": "atomic" }),
    })
    .strict(),
  "An issuer of access tokens (JWT) that the backend accepts.",
  [discoverableIssuerRule],
);

export const senderConstraint = withRules(
  z
    .object({
      dpop: z
        .object({
          required: z.boolean().default(true).describe("Refuse access tokens that are not bound to a DPoP key (RFC 9449) or come without a valid proof."),
          maxProofAge: boundedDuration({ description: "How old a proof's `iat` may be.", min: "1s", max: "5m" }).default("60s"),
          algorithms: setList(
            z.enum(["ES256", "ES384", "ES512", "EdDSA", "Ed25519", "PS256", "PS384", "PS512", "RS256"]).describe("A JWS algorithm (RFC 7518, RFC 8037, RFC 9864)."),
            {
              min: 1,
              max: 9,
              description:
                "Signature algorithms accepted for proofs. EdDSA also accepts its fully-specified name Ed25519 (RFC 9864), which current client libraries write; Ed25519 alone accepts only that name.",
            },
          ).default(["ES256", "EdDSA", "PS256"]),
          requireNonce: z.boolean().default(false).describe("Require a server-issued nonce in every proof (RFC 9449 section 8)."),
        })
        .strict()
        .meta({ description: "Demonstrating Proof of Possession (RFC 9449): every request carries a proof signed by the key the token is bound to (cnf.jkt)." })
        .optional(),
      mtls: z
        .object({
          required: z.boolean().default(true).describe("Refuse tokens whose cnf.x5t#S256 does not match the client certificate of the connection."),
        })
        .strict()
        .meta({ description: "Certificate-bound access tokens (RFC 8705)." })
        .optional(),
    })
    .strict(),
  "Binds access tokens to a key the client holds, so a stolen token is useless without it. Applies to every rule that authenticates.",
  [
    {
      cel: "!(has(self.dpop) && self.dpop.required && has(self.mtls) && self.mtls.required)",
      message: "dpop and mtls cannot both be required: a token is bound either to a DPoP key (cnf.jkt) or to a certificate (cnf.x5t#S256)",
      holds: (v) => !(v.dpop?.required === true && v.mtls?.required === true),
    },
  ],
);

export const appAttestation = withRules(
  z
    .object({
      header: httpHeaderName("Request header that carries the integrity token.").default("X-App-Attestation"),
      issuer: patternString({
        pattern: visibleAscii,
        maxLength: 512,
        message: "must be the attestation issuer identifier: printable ASCII without spaces",
        description: "Required `iss` of the integrity token.",
      }),
      jwks: jwksSource,
      audiences,
      appIds: setList(patternString({ pattern: visibleAscii, maxLength: 256, message: "must be an app id: printable ASCII without spaces", description: "An app id." }), {
        min: 1,
        max: 32,
        description: "App ids (the token's `sub`) of the genuine builds allowed to call.",
      }),
      maxTokenAge: boundedDuration({ description: "How old an integrity token may be (from its `iat`).", min: "10s", max: "24h" }).default("1h"),
      // --- replay and verdicts (request meaning) ---
      singleUse: z
        .boolean()
        .default(false)
        .describe(
          "Accept each integrity token once: tokens must carry a `jti`, remembered (across replicas when bulwark authz uses Redis) for maxTokenAge, and a token presented again is refused. For attesters that mint one token per request (Play Integrity standard requests, App Attest assertions); leave false for tokens an app reuses for their lifetime (Firebase App Check), which maxTokenAge keeps fresh.",
        ),
      requiredClaims: claimValues(
        'Verdict claims the integrity token must carry, each with one of the listed values; a claim that is an array matches when it contains one. A name with dots reaches into nested objects when no top-level claim has that name, e.g. {"deviceIntegrity.deviceRecognitionVerdict": [MEETS_DEVICE_INTEGRITY]}.',
        "An accepted value of the verdict claim.",
      ).optional(),
    })
    .strict(),
  "App attestation: a signed integrity token (a JWT, e.g. Firebase App Check) proving the request comes from a genuine build of the app.",
  [discoverableIssuerRule],
);

/**
 * API keys for server-to-server partner clients (Envoy Gateway's and Kuadrant's API key
 * authentication). Checked by bulwark authz on rules with `authentication: APIKey`.
 */
export const apiKeys = z
  .object({
    secretRef: z
      .object({
        name: dnsSubdomain("Name of the Secret, in the policy's namespace."),
      })
      .strict()
      .meta({
        description:
          "The Secret (in the policy's namespace) that holds the keys: each data entry is one client, its key the client's name (what the backend receives in clientHeader) and its value that client's API key (16 to 256 printable ASCII characters). Removing an entry revokes the client.",
      }),
    header: httpHeaderName("Request header the partner sends its key in; it is removed before the request reaches the backend.").default("X-API-Key"),
    clientHeader: httpHeaderName(
      "Request header the backend receives the client's name in, on rules with authentication APIKey (any value the caller sent in it is replaced).",
    ).default("X-API-Client"),
  })
  .strict()
  .meta({
    description:
      "API keys for server-to-server partner clients (a partner's backend calling this API), checked by bulwark authz on rules with authentication: APIKey; the key is compared by its SHA-256 in constant time, never logged, and refused with 401 when missing or unknown. Never a way to protect the routes of a mobile app: a key shipped in an app binary is extracted from it and then works for anyone (hardcoded keys are among the mobile risks of 2026); apps use access tokens (jwt), bound to the device (DPoP) and to a genuine build (appAttestation).",
  });

export const authentication = z
  .object({
    jwt: withRules(
      z
        .object({
          providers: z
            .array(jwtProvider)
            .min(1)
            .max(8)
            .meta({ description: "Issuers whose tokens are accepted; a token is checked against the provider whose issuer it names.", "x-kubernetes-list-type": "atomic" }),
          senderConstraint: senderConstraint.optional(),
        })
        .strict(),
      "Access tokens (JWT) in the Authorization header.",
      [
        {
          cel: "self.providers.all(p, self.providers.exists_one(q, q.name == p.name))",
          message: "provider names must be unique",
          fieldPath: ".providers",
          holds: (v) => new Set(v.providers.map((p) => p.name)).size === v.providers.length,
        },
        {
          cel: "self.providers.all(p, self.providers.exists_one(q, q.issuer == p.issuer))",
          message: "each issuer may appear in one provider only",
          fieldPath: ".providers",
          holds: (v) => new Set(v.providers.map((p) => p.issuer)).size === v.providers.length,
        },
      ],
    ).optional(),
    appAttestation: appAttestation.optional(),
    apiKeys: apiKeys.optional(),
  })
  .strict()
  .meta({ description: "How callers prove who they are and that they run a genuine app." });
