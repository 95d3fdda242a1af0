/**
 * Hand-written IR fixtures: every IR feature appears in at least one workload. Shared by the
 * envoy/ unit tests, the integration tests that validate the output with the real Envoy, and
 * anyone who needs a realistic WorkloadIR.
 */
import type { JwtProviderIR, RouteChecksIR, RouteIR, TranslationSettings, WorkloadIR } from "../../contract/ir.js";

/** authz by Service name (resolved by the sidecar), ratelimit by IP (served over EDS). */
export const fixtureSettings: TranslationSettings = {
  authz: { host: "bulwark-authz.bulwark-system.svc.cluster.local", port: 9001, timeoutMs: 250 },
  ratelimit: { host: "10.96.0.20", port: 8081, timeoutMs: 100 },
  rateLimitDomain: "bulwark",
};

const SHOP = "apisecuritypolicy/shop/orders";

function checks(partial: Partial<RouteChecksIR>): RouteChecksIR {
  return { authentication: "None", globalRateLimits: [], ...partial };
}

function forward(name: string, match: RouteIR["match"], routeChecks: RouteChecksIR, responseHeaders: { name: string; value: string }[] = []): RouteIR {
  return { name, match, action: { kind: "forward", checks: routeChecks, responseHeaders } };
}

const notFound = (policy: string): RouteIR => ({
  name: `${policy}/default`,
  match: { path: { kind: "prefix", prefix: "/" }, methods: [] },
  action: { kind: "respond", status: 404, body: JSON.stringify({ error: "not_found" }), responseHeaders: [] },
});

const authServer: JwtProviderIR = {
  name: `${SHOP}/jwt/auth-server`,
  issuer: "https://auth.example.com/",
  audiences: ["https://api.example.com", "orders"],
  jwks: {
    kind: "remote",
    uri: "https://auth.example.com/.well-known/jwks.json",
    cacheSeconds: 600,
    cluster: { name: "jwks/auth.example.com/443", host: "auth.example.com", port: 443, tls: true },
  },
  maxLifetimeSeconds: 3600,
  clockSkewSeconds: 30,
  claimsToHeaders: [
    { claim: "sub", header: "x-user-id" },
    { claim: "tenant", header: "x-tenant" },
  ],
  schemes: ["Bearer", "DPoP"],
};

const partnerKeys: JwtProviderIR = {
  name: `${SHOP}/jwt/partner`,
  issuer: "partner.example.net",
  audiences: [],
  jwks: {
    kind: "inline",
    jwks: JSON.stringify({
      keys: [
        {
          kty: "EC",
          crv: "P-256",
          kid: "partner-1",
          alg: "ES256",
          use: "sig",
          x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
          y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
        },
      ],
    }),
  },
  clockSkewSeconds: 60,
  claimsToHeaders: [],
  schemes: ["DPoP"],
};

const deprecationHeaders = [
  { name: "deprecation", value: "@1767225600" },
  { name: "sunset", value: "Wed, 01 Jul 2026 00:00:00 GMT" },
  { name: "link", value: '<https://developer.example.com/migrate>; rel="deprecation"; type="text/html"' },
];

/**
 * A shop API with everything: two JWT providers (remote and inline; Bearer and DPoP), TLS 1.3
 * with Strict mTLS, scopes and claims, ext_authz on some routes, local and global limits of
 * every key kind and both failure modes, a request size limit, both compressors, a deprecation
 * window split by a path guard, a sunset (410) and the default-deny catch-all (404).
 */
export const shopWorkload: WorkloadIR = {
  name: `${SHOP}/ports/8443-8080`,
  namespace: "shop",
  policy: { namespace: "shop", name: "orders", generation: 3 },
  sidecars: ["orders-7d9f-abcde.shop", "orders-7d9f-fghij.shop"],
  listener: { port: 8443, tls: { minVersion: "TLSv1.3", mtls: "Strict" } },
  app: { port: 8080 },
  jwtProviders: [authServer, partnerKeys],
  routes: [
    {
      name: `${SHOP}/deprecation/0/sunset`,
      match: { path: { kind: "prefix", prefix: "/v0/" }, methods: [] },
      action: {
        kind: "respond",
        status: 410,
        body: JSON.stringify({ error: "gone", message: "This API was retired on Thu, 01 Jan 2026 00:00:00 GMT.", link: "https://developer.example.com/v0" }),
        responseHeaders: [
          { name: "sunset", value: "Thu, 01 Jan 2026 00:00:00 GMT" },
          { name: "link", value: '<https://developer.example.com/v0>; rel="sunset"; type="text/html"' },
        ],
      },
    },
    forward(
      `${SHOP}/rule/get-order`,
      { path: { kind: "template", template: "/v2/orders/{orderId}", variables: ["orderId"] }, methods: ["GET"] },
      checks({
        authentication: "Required",
        require: {
          scopes: ["orders:read"],
          claims: [
            { name: "email_verified", values: ["true"] },
            { name: "tier", values: ["gold", "silver"] },
          ],
        },
        authz: {
          dpop: true,
          certificateBound: true,
          appAttestation: false,
          ownership: { pathParam: "orderId", claim: "sub", template: "/v2/orders/{orderId}" },
          minAppVersion: true,
        },
        localRateLimit: { name: `${SHOP}/rule/get-order/ratelimit/burst`, requests: 100, windowSeconds: 1, shadow: false, responseHeaders: true },
        globalRateLimits: [
          {
            name: `${SHOP}/rule/get-order/ratelimit/per-user`,
            key: [{ kind: "claim", claim: "sub" }],
            requests: 600,
            windowSeconds: 60,
            shadow: false,
            failureMode: "Deny",
            responseHeaders: true,
          },
          {
            name: `${SHOP}/rule/get-order/ratelimit/per-order`,
            key: [{ kind: "pathParam", param: "orderId", template: "/v2/orders/{orderId}" }, { kind: "clientIP" }],
            requests: 30,
            windowSeconds: 60,
            shadow: true,
            failureMode: "Allow",
            responseHeaders: false,
          },
        ],
      }),
    ),
    forward(
      `${SHOP}/rule/create-order`,
      { path: { kind: "exact", path: "/v2/orders" }, methods: ["POST"] },
      checks({
        authentication: "Required",
        require: { scopes: ["orders:write", "profile"], claims: [] },
        authz: { dpop: true, certificateBound: false, appAttestation: true, minAppVersion: true },
        maxRequestBytes: 65536,
        globalRateLimits: [
          {
            name: `${SHOP}/rule/create-order/ratelimit/failed-payments`,
            key: [{ kind: "clientIP" }, { kind: "header", header: "x-device-id" }],
            requests: 5,
            windowSeconds: 3600,
            shadow: false,
            failureMode: "Allow",
            responseHeaders: true,
            countedResponseCodes: [402, 409],
          },
        ],
      }),
    ),
    forward(
      `${SHOP}/rule/catalog/deprecation/1`,
      { path: { kind: "prefix", prefix: "/v1/" }, methods: ["GET", "HEAD"], pathPrefixGuard: "/v1/catalog" },
      checks({
        authentication: "Optional",
        localRateLimit: { name: `${SHOP}/rule/catalog/ratelimit/shadow`, requests: 50, windowSeconds: 10, shadow: true, responseHeaders: false },
      }),
      deprecationHeaders,
    ),
    forward(
      `${SHOP}/rule/catalog`,
      { path: { kind: "prefix", prefix: "/v1/" }, methods: ["GET", "HEAD"] },
      checks({
        authentication: "Optional",
        localRateLimit: { name: `${SHOP}/rule/catalog/ratelimit/shadow`, requests: 50, windowSeconds: 10, shadow: true, responseHeaders: false },
      }),
    ),
    forward(`${SHOP}/rule/health`, { path: { kind: "exact", path: "/healthz" }, methods: [] }, checks({ authentication: "None" })),
    notFound(SHOP),
  ],
  compression: { algorithms: ["brotli", "gzip"], minBytes: 1024 },
  minAppVersion: {
    header: "x-app-version",
    platformHeader: "x-app-platform",
    minimum: "3.0.0",
    platforms: [
      { platform: "android", minimum: "3.2.0" },
      { platform: "ios", minimum: "3.1.0" },
    ],
  },
  appAttestation: {
    header: "x-app-attestation",
    issuer: "https://attest.example.com",
    audiences: ["shop"],
    appIds: ["com.example.shop"],
    jwks: { kind: "inline", jwks: '{"keys":[]}' },
    maxTokenAgeSeconds: 300,
  },
  senderConstraint: { dpop: { required: false, maxProofAgeSeconds: 60, algorithms: ["ES256"], requireNonce: false }, mtls: { required: false } },
};

const GATEWAY = "apisecuritypolicy/mobile/gateway";

/**
 * A mobile gateway on TLS 1.3 with Permissive mTLS: one remote JWKS over plain HTTP, only gzip,
 * every route behind a required token, the default action Allow (no 404 catch-all).
 */
export const gatewayWorkload: WorkloadIR = {
  name: `${GATEWAY}/ports/9443-9000`,
  namespace: "mobile",
  policy: { namespace: "mobile", name: "gateway", generation: 1 },
  sidecars: ["gateway-0.mobile"],
  listener: { port: 9443, tls: { minVersion: "TLSv1.3", mtls: "Permissive" } },
  app: { port: 9000 },
  jwtProviders: [
    {
      name: `${GATEWAY}/jwt/internal`,
      issuer: "http://keycloak.identity.svc/realms/mobile",
      audiences: ["gateway"],
      jwks: {
        kind: "remote",
        uri: "http://keycloak.identity.svc:8080/realms/mobile/protocol/openid-connect/certs",
        cacheSeconds: 300,
        cluster: { name: "jwks/keycloak.identity.svc/8080", host: "keycloak.identity.svc", port: 8080, tls: false },
      },
      clockSkewSeconds: 0,
      claimsToHeaders: [],
      schemes: ["Bearer"],
    },
  ],
  routes: [
    forward(
      `${GATEWAY}/rule/admin`,
      { path: { kind: "prefix", prefix: "/admin/" }, methods: ["DELETE", "PATCH", "POST", "PUT"] },
      checks({
        authentication: "Required",
        require: {
          scopes: [],
          claims: [
            { name: "realm_access.roles", values: ["admin"] },
            { name: "level", values: ["3", "4"] },
          ],
        },
      }),
    ),
    forward(
      `${GATEWAY}/rule/search`,
      { path: { kind: "template", template: "/search/{index}/docs/{docId}", variables: ["index", "docId"] }, methods: ["GET"] },
      checks({
        authentication: "Required",
        globalRateLimits: [
          {
            name: `${GATEWAY}/rule/search/ratelimit/per-index`,
            key: [
              { kind: "pathParam", param: "index", template: "/search/{index}/docs/{docId}" },
              { kind: "header", header: "x-api-key" },
            ],
            requests: 1000,
            windowSeconds: 60,
            shadow: false,
            failureMode: "Deny",
            responseHeaders: false,
          },
        ],
      }),
    ),
    forward(`${GATEWAY}/default`, { path: { kind: "prefix", prefix: "/" }, methods: [] }, checks({ authentication: "Required" })),
  ],
  compression: { algorithms: ["gzip"], minBytes: 256 },
};

const LEGACY = "apisecuritypolicy/legacy/app";

/** TLS 1.2 without mTLS, brotli only, and a route authz checks without any token (minimum app version). */
export const legacyWorkload: WorkloadIR = {
  name: `${LEGACY}/ports/8443-3000`,
  namespace: "legacy",
  policy: { namespace: "legacy", name: "app", generation: 7 },
  sidecars: ["legacy-1.legacy"],
  listener: { port: 8443, tls: { minVersion: "TLSv1.2", mtls: "Disabled" } },
  app: { port: 3000 },
  jwtProviders: [],
  routes: [
    forward(
      `${LEGACY}/rule/upload`,
      { path: { kind: "exact", path: "/upload" }, methods: ["POST", "PUT"] },
      checks({ maxRequestBytes: 1048576, authz: { dpop: false, certificateBound: false, appAttestation: false, minAppVersion: true } }),
    ),
    forward(
      `${LEGACY}/default`,
      { path: { kind: "prefix", prefix: "/" }, methods: [] },
      checks({ authz: { dpop: false, certificateBound: false, appAttestation: false, minAppVersion: true } }),
    ),
  ],
  compression: { algorithms: ["brotli"], minBytes: 30 },
  minAppVersion: { header: "x-app-version", platformHeader: "x-app-platform", minimum: "1.0.0", platforms: [] },
};

/** A pod no policy governs: listener → app, no checks. */
export const passThroughWorkload: WorkloadIR = {
  name: "passthrough/default/ports/8080-8081",
  namespace: "default",
  sidecars: ["web-1.default"],
  listener: { port: 8080 },
  app: { port: 8081 },
  jwtProviders: [],
  routes: [forward("passthrough/default/default", { path: { kind: "prefix", prefix: "/" }, methods: [] }, checks({ authentication: "None" }))],
};

/** Every workload above, by a short name. */
export const irFixtures: Record<string, WorkloadIR> = {
  shop: shopWorkload,
  gateway: gatewayWorkload,
  legacy: legacyWorkload,
  passThrough: passThroughWorkload,
};

const SERVE = "apisecuritypolicy/demo/serve";

/**
 * A small workload to serve real traffic on loopback ports: `/hello` forwarded, `/upload`
 * limited to 1 KiB, `/limited` allowing two requests a minute, `/old/` retired (410),
 * everything else 404.
 */
export function servingWorkload(ports: { listener: number; app: number }): WorkloadIR {
  return {
    name: `${SERVE}/ports/${ports.listener}-${ports.app}`,
    namespace: "demo",
    policy: { namespace: "demo", name: "serve", generation: 1 },
    sidecars: ["serve-0.demo"],
    listener: { port: ports.listener },
    app: { port: ports.app },
    jwtProviders: [],
    routes: [
      {
        name: `${SERVE}/deprecation/0/sunset`,
        match: { path: { kind: "prefix", prefix: "/old/" }, methods: [] },
        action: {
          kind: "respond",
          status: 410,
          body: JSON.stringify({ error: "gone" }),
          responseHeaders: [
            { name: "sunset", value: "Thu, 01 Jan 2026 00:00:00 GMT" },
            // A link the schema accepts, with `%` that Envoy would read as formatter commands unless escaped.
            { name: "link", value: '<https://dev.example.com/100%25?ua=%REQ(user-agent)%>; rel="sunset"' },
          ],
        },
      },
      forward(`${SERVE}/rule/hello`, { path: { kind: "exact", path: "/hello" }, methods: ["GET"] }, checks({}), [{ name: "deprecation", value: "@1767225600" }]),
      forward(`${SERVE}/rule/upload`, { path: { kind: "exact", path: "/upload" }, methods: ["POST"] }, checks({ maxRequestBytes: 1024 })),
      forward(
        `${SERVE}/rule/limited`,
        { path: { kind: "exact", path: "/limited" }, methods: [] },
        checks({ localRateLimit: { name: `${SERVE}/rule/limited/ratelimit/two`, requests: 2, windowSeconds: 60, shadow: false, responseHeaders: true } }),
      ),
      notFound(SERVE),
    ],
  };
}

const AUTH = "apisecuritypolicy/demo/auth";

/**
 * A workload that verifies tokens signed by the keys in `jwks` (issuer `https://issuer.test`,
 * audience `demo`, at most one hour of lifetime, Bearer or DPoP scheme, `sub` copied to
 * `x-user-id`): `/orders` needs scope `orders:read` and tier gold or platinum, `/me` any valid
 * token, `/public/` a valid token or none, `/open` no token check at all, everything else 404.
 */
export function authServingWorkload(ports: { listener: number; app: number }, jwks: string): WorkloadIR {
  return {
    name: `${AUTH}/ports/${ports.listener}-${ports.app}`,
    namespace: "demo",
    policy: { namespace: "demo", name: "auth", generation: 1 },
    sidecars: ["auth-0.demo"],
    listener: { port: ports.listener },
    app: { port: ports.app },
    jwtProviders: [
      {
        name: `${AUTH}/jwt/test-issuer`,
        issuer: "https://issuer.test",
        audiences: ["demo"],
        jwks: { kind: "inline", jwks },
        maxLifetimeSeconds: 3600,
        clockSkewSeconds: 5,
        claimsToHeaders: [{ claim: "sub", header: "x-user-id" }],
        schemes: ["Bearer", "DPoP"],
      },
    ],
    routes: [
      forward(
        `${AUTH}/rule/orders`,
        { path: { kind: "exact", path: "/orders" }, methods: ["GET"] },
        checks({ authentication: "Required", require: { scopes: ["orders:read"], claims: [{ name: "tier", values: ["gold", "platinum"] }] } }),
      ),
      forward(`${AUTH}/rule/me`, { path: { kind: "exact", path: "/me" }, methods: [] }, checks({ authentication: "Required" })),
      forward(`${AUTH}/rule/public`, { path: { kind: "prefix", prefix: "/public/" }, methods: [] }, checks({ authentication: "Optional" })),
      forward(`${AUTH}/rule/open`, { path: { kind: "exact", path: "/open" }, methods: [] }, checks({ authentication: "None" })),
      notFound(AUTH),
    ],
  };
}
