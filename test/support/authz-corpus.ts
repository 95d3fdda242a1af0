/**
 * The adversarial corpus of bulwark authz behind real Envoy: requests that must be refused (with
 * who refuses them and why) and requests that must pass. Each case builds its request when it
 * runs, so tokens and proofs are fresh; the test sends it through the sidecar and checks the
 * answer and that the app never saw a refused request.
 *
 * Three sidecars (test/support/authz-policy.ts, corpusPolicyInput): `shop` (DPoP required,
 * ownership, attestation, app versions), `wallet` (DPoP with server nonces) and `bank`
 * (certificate-bound tokens on a TLS listener that asks for client certificates).
 */
import { createHash, randomUUID } from "node:crypto";
import { exportJWK, SignJWT, UnsecuredJWT, type JWTPayload } from "jose";
import * as dpopClient from "dpop";
import * as oauth from "oauth4webapi";
import type { RequestMeaningReason } from "../../envoy/build/filters/request-meaning.js";
import type { RefusalReason } from "../../services/authz/decision.js";
import type { DpopKey, ProofOptions, TestIssuer } from "./authz-client.js";
import { APP_ID, ATTESTER, AUDIENCE, ISSUER, MAX_TOKEN_AGE_SECONDS, RSA_ISSUER } from "./authz-policy.js";

export type CorpusTarget = "shop" | "wallet" | "bank";
export const CORPUS_HOSTS: Record<CorpusTarget, string> = { shop: "shop.test", wallet: "wallet.test", bank: "bank.test" };

export interface CorpusRequest {
  target: CorpusTarget;
  method: string;
  path: string;
  /** Name/value pairs in order; a name may repeat. Values are sent as bytes (latin1), so UTF-8 can be given as its bytes. */
  headers: [string, string][];
  /** bank only: connect over TLS, presenting this client certificate (or none); plaintext when absent. */
  tls?: { certificate: "alice" | "mallory" | "none" };
}

export interface CorpusReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** What must happen. */
export type CorpusExpectation =
  /** The app answers 200. */
  | { kind: "pass" }
  /** bulwark authz refuses: this status and this x-bulwark-reason. */
  | { kind: "authz"; status: number; reason: RefusalReason }
  /** Envoy's jwt_authn refuses with this status (401, or 403 for audiences) and message (its body), before authz is asked. */
  | { kind: "jwt_authn"; status: number; message: RegExp }
  /** Envoy itself refuses before any filter: header limits (431), escaped slashes redirected to their normal form (307), underscores in header names (400); or RBAC refuses a token with a critical extension (403). */
  | { kind: "envoy"; status: number }
  /** The sidecar's request-meaning filter refuses before any decision: 400 with this x-bulwark-reason. */
  | { kind: "meaning"; reason: RequestMeaningReason };

export interface ClientCertificate {
  certificatePem: string;
  privateKeyPem: string;
  /** base64url SHA-256 of the DER (RFC 8705 `x5t#S256`). */
  thumbprint: string;
}

export interface CorpusContext {
  /** The ES256 provider of access tokens. */
  idp: TestIssuer;
  /** The RS256 provider of access tokens (RS/HS confusion). */
  rsaIdp: TestIssuer;
  /** Claims the idp's issuer and kid, signs with another key. */
  forger: TestIssuer;
  attester: TestIssuer;
  /** Claims the attester's issuer and kid, signs with another key. */
  attestForger: TestIssuer;
  /** The app's DPoP key (ES256). */
  phone: DpopKey;
  /** Someone else's DPoP key (ES256). */
  thief: DpopKey;
  /** Keys of allowed algorithms other than ES256, and of a refused one. */
  edPhone: DpopKey;
  psPhone: DpopKey;
  rsPhone: DpopKey;
  certificates: { alice: ClientCertificate; mallory: ClientCertificate };
  /** A nonce the wallet's authz issued in a past slot (no longer valid). */
  staleNonce: string;
  /** Sends a request through its sidecar (for cases that need a first request, e.g. a replay). */
  send(request: CorpusRequest): Promise<CorpusReply>;
}

export interface CorpusCase {
  name: string;
  group: "token" | "dpop" | "htu" | "nonce" | "app-version" | "attestation" | "ownership" | "certificate" | "headers" | "equivalent" | "clients";
  expect: CorpusExpectation;
  build(ctx: CorpusContext): Promise<CorpusRequest>;
}

// ---------------------------------------------------------------------------------------------
// Builders

const now = (): number => Math.floor(Date.now() / 1000);

/** An access token of the idp bound to `key` (or to nothing when `key` is null). */
function accessToken(ctx: CorpusContext, options: { sub?: string; key?: DpopKey | null; claims?: JWTPayload } = {}): Promise<string> {
  const key = options.key === undefined ? ctx.phone : options.key;
  return ctx.idp.sign({ sub: options.sub ?? "alice", ...(key ? { cnf: { jkt: key.jkt } } : {}), ...options.claims }, { audience: AUDIENCE });
}

/** A payload with every registered claim an access token needs, for raw signing. */
function tokenPayload(ctx: CorpusContext, overrides: JWTPayload = {}): JWTPayload {
  const t = now();
  return { iss: ISSUER, aud: AUDIENCE, sub: "alice", iat: t, exp: t + 300, cnf: { jkt: ctx.phone.jkt }, ...overrides };
}

function without(payload: JWTPayload, ...names: string[]): JWTPayload {
  const copy = { ...payload };
  for (const n of names) delete copy[n];
  return copy;
}

interface DpopRequestOptions {
  target?: CorpusTarget;
  method?: string;
  path?: string;
  /** The access token; a fresh bound one by default. */
  token?: string;
  /** Authorization header value instead of `DPoP <token>`; null to leave it out. */
  authorization?: string | null;
  /** Key that signs the proof (the phone by default). */
  proofKey?: DpopKey;
  proof?: Partial<ProofOptions>;
  /** The DPoP header instead of a proof; null to leave it out. */
  dpop?: string | null;
  appVersion?: string | null;
  platform?: string | null;
  extra?: [string, string][];
}

/** A request as the genuine app sends it (version 4.3.0 on iOS, a fresh proof), with the given changes. */
async function dpopRequest(ctx: CorpusContext, o: DpopRequestOptions = {}): Promise<CorpusRequest> {
  const target = o.target ?? "shop";
  const method = o.method ?? "GET";
  const path = o.path ?? "/v1/cart";
  const token = o.token ?? (await accessToken(ctx));
  const query = path.search(/[?#]/);
  const htu = `http://${CORPUS_HOSTS[target]}${query === -1 ? path : path.slice(0, query)}`;
  const proof = o.dpop === undefined ? await (o.proofKey ?? ctx.phone).proof({ htm: method, htu, accessToken: token, ...o.proof }) : o.dpop;
  const authorization = o.authorization === undefined ? `DPoP ${token}` : o.authorization;
  const headers: [string, string][] = [];
  if (authorization !== null) headers.push(["authorization", authorization]);
  if (proof !== null) headers.push(["dpop", proof]);
  if (o.appVersion !== null) headers.push(["x-app-version", o.appVersion ?? "4.3.0"]);
  if (o.platform !== null) headers.push(["x-app-platform", o.platform ?? "ios"]);
  headers.push(...(o.extra ?? []));
  return { target, method, path, headers };
}

/** A DPoP request whose access token is `token(ctx)` (the proof is made over it). */
function withToken(token: (ctx: CorpusContext) => Promise<string>): (ctx: CorpusContext) => Promise<CorpusRequest> {
  return async (ctx) => dpopRequest(ctx, { token: await token(ctx) });
}

/** Flips one character in the middle of a base64url segment (the signature: index 2). */
function tamper(jws: string, segment: number): string {
  const parts = jws.split(".");
  const s = parts[segment] ?? "";
  const i = Math.floor(s.length / 2);
  parts[segment] = s.slice(0, i) + (s[i] === "A" ? "B" : "A") + s.slice(i + 1);
  return parts.join(".");
}

/** The same JWS with its payload replaced (the signature no longer covers it). */
function swapPayload(jws: string, payload: Record<string, unknown>): string {
  const [header, , signature] = jws.split(".");
  return `${header}.${Buffer.from(JSON.stringify(payload)).toString("base64url")}.${signature}`;
}

function decodePayload(jws: string): Record<string, unknown> {
  // Test input we made ourselves: read back to change one claim.
  return JSON.parse(Buffer.from(jws.split(".")[1] ?? "", "base64url").toString("utf8")) as Record<string, unknown>;
}

function hs256(payload: JWTPayload, secret: Uint8Array, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: "HS256", ...header }).sign(secret);
}

function utf8AsLatin1(text: string): string {
  return Buffer.from(text, "utf8").toString("latin1");
}

/** The verdict a genuine device gets (the shop requires MEETS_DEVICE_INTEGRITY). */
const GENUINE_DEVICE = { deviceIntegrity: { deviceRecognitionVerdict: ["MEETS_BASIC_INTEGRITY", "MEETS_DEVICE_INTEGRITY"] } };

/** A single-use integrity token (a fresh jti) with a genuine device's verdict, unless told otherwise. */
function attestation(
  ctx: CorpusContext,
  o: { issuer?: TestIssuer; sub?: string; audience?: string; iat?: number; lifetimeSeconds?: number; claims?: JWTPayload } = {},
): Promise<string> {
  return (o.issuer ?? ctx.attester).sign(
    { sub: o.sub ?? APP_ID, jti: randomUUID(), ...GENUINE_DEVICE, ...o.claims },
    { audience: o.audience ?? "projects/shop", ...(o.iat !== undefined ? { iat: o.iat } : {}), ...(o.lifetimeSeconds !== undefined ? { lifetimeSeconds: o.lifetimeSeconds } : {}) },
  );
}

function checkout(attest: ((ctx: CorpusContext) => Promise<string | null>) | null): (ctx: CorpusContext) => Promise<CorpusRequest> {
  return async (ctx) => {
    const value = attest ? await attest(ctx) : null;
    return dpopRequest(ctx, { method: "POST", path: "/v1/checkout", extra: value === null ? [] : [["x-app-attestation", value]] });
  };
}

function version(value: string | null, platform = "ios"): (ctx: CorpusContext) => Promise<CorpusRequest> {
  return (ctx) => dpopRequest(ctx, { appVersion: value, platform });
}

function bank(o: {
  certificate?: "alice" | "mallory" | "none" | "plaintext";
  cnf?: (ctx: CorpusContext) => Record<string, unknown> | undefined;
}): (ctx: CorpusContext) => Promise<CorpusRequest> {
  return async (ctx) => {
    const cnf = o.cnf ? o.cnf(ctx) : { "x5t#S256": ctx.certificates.alice.thumbprint };
    const token = await ctx.idp.sign({ sub: "alice", ...(cnf ? { cnf } : {}) }, { audience: AUDIENCE });
    const certificate = o.certificate ?? "alice";
    return {
      target: "bank",
      method: "GET",
      path: "/v1/accounts/main",
      headers: [["authorization", `Bearer ${token}`]],
      ...(certificate === "plaintext" ? {} : { tls: { certificate } }),
    };
  };
}

/** The bank's request with its Authorization scheme spelled `scheme`. */
function withScheme(request: CorpusRequest, scheme: string): CorpusRequest {
  return {
    ...request,
    headers: request.headers.map(([name, value]): [string, string] => (name === "authorization" ? [name, value.replace(/^Bearer /, `${scheme} `)] : [name, value])),
  };
}

/** A request whose proof the `dpop` package made, with a token bound to its key. */
async function dpopPackageRequest(ctx: CorpusContext, alg: "ES256" | "Ed25519"): Promise<CorpusRequest> {
  const keys = await dpopClient.generateKeyPair(alg);
  const token = await accessToken(ctx, { key: null, claims: { cnf: { jkt: await dpopClient.calculateThumbprint(keys.publicKey) } } });
  return dpopRequest(ctx, { token, dpop: await dpopClient.generateProof(keys, "http://shop.test/v1/cart", "GET", undefined, token) });
}

/**
 * A request as `oauth4webapi` sends it (its protectedResourceRequest, with the DPoP handle): the
 * library writes Authorization and DPoP; its fetch is replaced to hand them to the corpus.
 */
async function oauthClientRequest(ctx: CorpusContext, alg: "ES256" | "Ed25519"): Promise<CorpusRequest> {
  const keys = await oauth.generateKeyPair(alg);
  const handle = oauth.DPoP({}, keys);
  const token = await accessToken(ctx, { key: null, claims: { cnf: { jkt: await handle.calculateThumbprint() } } });
  let sent: Headers | undefined;
  await oauth.protectedResourceRequest(token, "GET", new URL("http://shop.test/v1/cart"), new Headers(), null, {
    DPoP: handle,
    [oauth.allowInsecureRequests]: true,
    [oauth.customFetch]: (_url, init) => {
      sent = new Headers(init.headers);
      return Promise.resolve(new Response("{}", { status: 200, headers: { "content-type": "application/json" } }));
    },
  });
  const authorization = sent?.get("authorization");
  const proof = sent?.get("dpop");
  if (!authorization || !proof) throw new Error("oauth4webapi sent no Authorization or DPoP header");
  return dpopRequest(ctx, { token, authorization, dpop: proof });
}

const authz = (status: number, reason: RefusalReason): CorpusExpectation => ({ kind: "authz", status, reason });
const dpop401 = (reason: RefusalReason): CorpusExpectation => authz(401, reason);
const jwt = (message: RegExp, status = 401): CorpusExpectation => ({ kind: "jwt_authn", status, message });
const pass: CorpusExpectation = { kind: "pass" };
const meaning = (reason: RequestMeaningReason): CorpusExpectation => ({ kind: "meaning", reason });

// Envoy jwt_authn's messages (its status strings).
const VERIFICATION_FAILS = /^Jwt verification fails$/;
const NO_MATCHING_KEY = /^Jwks doesn't have key to match kid or alg from Jwt$/;
const MISSING = /^Jwt is missing$/;
const EXPIRED = /^Jwt is expired$/;
const NOT_YET_VALID = /^Jwt not yet valid$/;
const BAD_FORMAT = /^Jwt is not in the form of Header\.Payload\.Signature with two dots and 3 sections$/;
const UNKNOWN_ISSUER = /^Jwt issuer is not configured$/;
const AUDIENCE_NOT_ALLOWED = /^Audiences in Jwt are not allowed$/;
const BAD_HEADER = /^Jwt header is an invalid JSON$/;

// ---------------------------------------------------------------------------------------------
// The corpus

export const corpus: CorpusCase[] = [
  // --- access tokens: refused by Envoy's jwt_authn before authz is asked ---------------------
  { group: "token", name: "alg none (an empty signature)", expect: jwt(BAD_FORMAT), build: withToken((ctx) => Promise.resolve(new UnsecuredJWT(tokenPayload(ctx)).encode())) },
  {
    group: "token",
    name: "alg none with the issuer's kid and the signature of a genuine token",
    expect: jwt(/^Jwt header \[alg\] is not supported$/),
    build: withToken(async (ctx) => {
      const header = Buffer.from(JSON.stringify({ alg: "none", kid: ctx.idp.kid, typ: "JWT" })).toString("base64url");
      const [, payload, signature] = (await accessToken(ctx)).split(".");
      return `${header}.${payload}.${signature}`;
    }),
  },
  {
    group: "token",
    name: "RS/HS confusion: HS256 signed with the RSA issuer's public key (PEM) as the secret",
    expect: jwt(NO_MATCHING_KEY),
    build: withToken(async (ctx) => hs256(tokenPayload(ctx, { iss: RSA_ISSUER }), new TextEncoder().encode(await ctx.rsaIdp.publicKeyPem()), { kid: ctx.rsaIdp.kid })),
  },
  {
    group: "token",
    name: "RS/HS confusion: HS256 signed with the RSA issuer's JWKS as the secret",
    expect: jwt(NO_MATCHING_KEY),
    build: withToken(async (ctx) => hs256(tokenPayload(ctx, { iss: RSA_ISSUER }), new TextEncoder().encode(JSON.stringify(ctx.rsaIdp.jwks)), { kid: ctx.rsaIdp.kid })),
  },
  {
    group: "token",
    name: "RS/HS confusion: HS256 without kid signed with the RSA modulus",
    expect: jwt(NO_MATCHING_KEY),
    build: withToken(async (ctx) => hs256(tokenPayload(ctx, { iss: RSA_ISSUER }), Buffer.from(String(ctx.rsaIdp.jwks.keys[0]?.n), "base64url"))),
  },
  {
    group: "token",
    name: "HS256 signed with the EC issuer's public key as the secret",
    expect: jwt(NO_MATCHING_KEY),
    build: withToken(async (ctx) => hs256(tokenPayload(ctx), new TextEncoder().encode(await ctx.idp.publicKeyPem()), { kid: ctx.idp.kid })),
  },
  {
    group: "token",
    name: "unknown kid",
    expect: jwt(NO_MATCHING_KEY),
    build: withToken((ctx) => ctx.forger.signRaw({ header: { kid: "rotated-away" }, payload: tokenPayload(ctx) })),
  },
  {
    group: "token",
    name: "the issuer's kid, signed by another key",
    expect: jwt(VERIFICATION_FAILS),
    build: withToken((ctx) => ctx.forger.signRaw({ payload: tokenPayload(ctx) })),
  },
  { group: "token", name: "expired", expect: jwt(EXPIRED), build: withToken((ctx) => ctx.idp.signRaw({ payload: tokenPayload(ctx, { iat: now() - 400, exp: now() - 100 }) })) },
  {
    group: "token",
    name: "expired just beyond the clock skew",
    expect: jwt(EXPIRED),
    build: withToken((ctx) => ctx.idp.signRaw({ payload: tokenPayload(ctx, { iat: now() - 300, exp: now() - 20 }) })),
  },
  {
    group: "token",
    name: "not yet valid (nbf in the future)",
    expect: jwt(NOT_YET_VALID),
    build: withToken((ctx) => ctx.idp.signRaw({ payload: tokenPayload(ctx, { nbf: now() + 120 }) })),
  },
  {
    group: "token",
    name: "lifetime longer than the maximum token age",
    expect: jwt(VERIFICATION_FAILS),
    build: withToken((ctx) => ctx.idp.signRaw({ payload: tokenPayload(ctx, { iat: now(), exp: now() + MAX_TOKEN_AGE_SECONDS + 600 }) })),
  },
  {
    group: "token",
    name: "no exp (a token that never expires)",
    expect: jwt(VERIFICATION_FAILS),
    build: withToken((ctx) => ctx.idp.signRaw({ payload: without(tokenPayload(ctx), "exp") })),
  },
  {
    group: "token",
    name: "wrong issuer, signed with the idp's key",
    expect: jwt(UNKNOWN_ISSUER),
    build: withToken((ctx) => ctx.idp.signRaw({ payload: tokenPayload(ctx, { iss: "https://evil.example.com/" }) })),
  },
  {
    group: "token",
    name: "issuer differing in a trailing slash",
    expect: jwt(UNKNOWN_ISSUER),
    build: withToken((ctx) => ctx.idp.signRaw({ payload: tokenPayload(ctx, { iss: ISSUER.replace(/\/$/, "") }) })),
  },
  {
    group: "token",
    name: "the RSA issuer's name on a token signed with the EC key",
    expect: jwt(NO_MATCHING_KEY),
    build: withToken((ctx) => ctx.idp.signRaw({ payload: tokenPayload(ctx, { iss: RSA_ISSUER }) })),
  },
  {
    group: "token",
    name: "wrong audience",
    expect: jwt(AUDIENCE_NOT_ALLOWED, 403),
    build: withToken((ctx) => ctx.idp.signRaw({ payload: tokenPayload(ctx, { aud: "other-api" }) })),
  },
  { group: "token", name: "no audience", expect: jwt(AUDIENCE_NOT_ALLOWED, 403), build: withToken((ctx) => ctx.idp.signRaw({ payload: without(tokenPayload(ctx), "aud") })) },
  {
    group: "token",
    name: "tampered payload: sub changed",
    expect: jwt(VERIFICATION_FAILS),
    build: withToken(async (ctx) => {
      const token = await accessToken(ctx);
      return swapPayload(token, { ...decodePayload(token), sub: "bob" });
    }),
  },
  {
    group: "token",
    name: "tampered payload: a stolen token re-bound to the thief's key",
    expect: jwt(VERIFICATION_FAILS),
    build: async (ctx) => {
      const token = await accessToken(ctx);
      const rebound = swapPayload(token, { ...decodePayload(token), cnf: { jkt: ctx.thief.jkt } });
      return dpopRequest(ctx, { token: rebound, proofKey: ctx.thief });
    },
  },
  { group: "token", name: "tampered signature", expect: jwt(VERIFICATION_FAILS), build: withToken(async (ctx) => tamper(await accessToken(ctx), 2)) },
  { group: "token", name: "signature stripped", expect: jwt(BAD_FORMAT), build: withToken(async (ctx) => `${(await accessToken(ctx)).split(".").slice(0, 2).join(".")}.`) },
  { group: "token", name: "truncated to two segments", expect: jwt(BAD_FORMAT), build: withToken(async (ctx) => (await accessToken(ctx)).split(".").slice(0, 2).join(".")) },
  { group: "token", name: "four segments", expect: jwt(BAD_FORMAT), build: withToken(async (ctx) => `${await accessToken(ctx)}.AAAA`) },
  { group: "token", name: "garbage", expect: jwt(BAD_FORMAT), build: withToken(() => Promise.resolve("not-a-token")) },
  {
    group: "token",
    name: "a header that is not JSON",
    expect: jwt(BAD_HEADER),
    build: withToken(async (ctx) => `${Buffer.from("{alg:ES256").toString("base64url")}.${(await accessToken(ctx)).split(".").slice(1).join(".")}`),
  },
  { group: "token", name: "no Authorization header", expect: jwt(MISSING), build: (ctx) => dpopRequest(ctx, { authorization: null }) },
  {
    group: "token",
    name: "a DPoP-bound token sent as a Bearer token",
    expect: jwt(MISSING),
    build: async (ctx) => dpopRequest(ctx, { authorization: `Bearer ${await accessToken(ctx)}` }),
  },
  { group: "token", name: "the DPoP scheme without a token", expect: jwt(MISSING), build: (ctx) => dpopRequest(ctx, { authorization: "DPoP " }) },

  // --- DPoP proofs: refused by bulwark authz ----------------------------------------------------
  { group: "dpop", name: "no proof", expect: dpop401("dpop_proof_missing"), build: (ctx) => dpopRequest(ctx, { dpop: null }) },
  {
    group: "dpop",
    name: "a replayed proof",
    expect: dpop401("dpop_proof_replayed"),
    build: async (ctx) => {
      const request = await dpopRequest(ctx);
      const first = await ctx.send(request);
      if (first.status !== 200) throw new Error(`the first use of the proof answered ${first.status} ${first.body}`);
      return request;
    },
  },
  { group: "dpop", name: "a proof for another method", expect: dpop401("dpop_proof_htm"), build: (ctx) => dpopRequest(ctx, { proof: { htm: "DELETE" } }) },
  { group: "dpop", name: "a proof whose method is lower case", expect: dpop401("dpop_proof_htm"), build: (ctx) => dpopRequest(ctx, { proof: { htm: "get" } }) },
  { group: "dpop", name: "a proof with a stale iat", expect: dpop401("dpop_proof_iat"), build: (ctx) => dpopRequest(ctx, { proof: { iat: now() - 120 } }) },
  { group: "dpop", name: "a proof with an iat in the future", expect: dpop401("dpop_proof_iat"), build: (ctx) => dpopRequest(ctx, { proof: { iat: now() + 60 } }) },
  { group: "dpop", name: "a proof whose iat is a string", expect: dpop401("dpop_proof_claims"), build: (ctx) => dpopRequest(ctx, { proof: { claims: { iat: String(now()) } } }) },
  { group: "dpop", name: "a proof with an exp in the past", expect: dpop401("dpop_proof_iat"), build: (ctx) => dpopRequest(ctx, { proof: { claims: { exp: now() - 30 } } }) },
  { group: "dpop", name: "a proof signed by another key", expect: dpop401("dpop_key_mismatch"), build: (ctx) => dpopRequest(ctx, { proofKey: ctx.thief }) },
  {
    group: "dpop",
    name: "cnf.jkt of another key than the proof's",
    expect: dpop401("dpop_key_mismatch"),
    build: async (ctx) => dpopRequest(ctx, { token: await accessToken(ctx, { key: ctx.thief }) }),
  },
  {
    group: "dpop",
    name: "the thief's proof over a stolen token",
    expect: dpop401("dpop_key_mismatch"),
    build: async (ctx) => dpopRequest(ctx, { token: await accessToken(ctx), proofKey: ctx.thief }),
  },
  {
    group: "dpop",
    name: "a wrong ath (over another token)",
    expect: dpop401("dpop_proof_ath"),
    build: async (ctx) => dpopRequest(ctx, { proof: { accessToken: await accessToken(ctx, { sub: "bob" }) } }),
  },
  { group: "dpop", name: "no ath", expect: dpop401("dpop_proof_ath"), build: (ctx) => dpopRequest(ctx, { proof: { omit: ["ath"] } }) },
  { group: "dpop", name: "typ JWT", expect: dpop401("dpop_proof_typ"), build: (ctx) => dpopRequest(ctx, { proof: { typ: "JWT" } }) },
  { group: "dpop", name: "typ of another application (at+jwt)", expect: dpop401("dpop_proof_typ"), build: (ctx) => dpopRequest(ctx, { proof: { typ: "at+jwt" } }) },
  {
    group: "dpop",
    name: "alg HS256 (the public key as the secret)",
    expect: dpop401("dpop_proof_alg"),
    build: async (ctx) => {
      const token = await accessToken(ctx);
      const claims = { jti: randomUUID(), htm: "GET", htu: "http://shop.test/v1/cart", iat: now(), ath: createHash("sha256").update(token).digest("base64url") };
      const proof = await new SignJWT(claims)
        .setProtectedHeader({ alg: "HS256", typ: "dpop+jwt", jwk: ctx.phone.publicJwk })
        .sign(new TextEncoder().encode(JSON.stringify(ctx.phone.publicJwk)));
      return dpopRequest(ctx, { token, dpop: proof });
    },
  },
  {
    group: "dpop",
    name: "alg none",
    expect: dpop401("dpop_proof_alg"),
    build: async (ctx) => {
      const token = await accessToken(ctx);
      const header = Buffer.from(JSON.stringify({ alg: "none", typ: "dpop+jwt", jwk: ctx.phone.publicJwk })).toString("base64url");
      const payload = Buffer.from(
        JSON.stringify({ jti: randomUUID(), htm: "GET", htu: "http://shop.test/v1/cart", iat: now(), ath: createHash("sha256").update(token).digest("base64url") }),
      ).toString("base64url");
      return dpopRequest(ctx, { token, dpop: `${header}.${payload}.` });
    },
  },
  {
    group: "dpop",
    name: "an algorithm the policy does not allow (RS256)",
    expect: dpop401("dpop_proof_alg"),
    build: async (ctx) => dpopRequest(ctx, { token: await accessToken(ctx, { key: ctx.rsPhone }), proofKey: ctx.rsPhone }),
  },
  {
    group: "dpop",
    name: "the private key in the jwk header",
    expect: dpop401("dpop_proof_private_key"),
    build: async (ctx) => dpopRequest(ctx, { proof: { jwk: await exportJWK(ctx.phone.privateKey) } }),
  },
  {
    group: "dpop",
    name: "a symmetric key in the jwk header",
    expect: dpop401("dpop_proof_private_key"),
    build: (ctx) => dpopRequest(ctx, { proof: { jwk: { kty: "oct", k: "c2VjcmV0LXNlY3JldC1zZWNyZXQ" } } }),
  },
  { group: "dpop", name: "no jti", expect: dpop401("dpop_proof_claims"), build: (ctx) => dpopRequest(ctx, { proof: { omit: ["jti"] } }) },
  { group: "dpop", name: "an empty jti", expect: dpop401("dpop_proof_claims"), build: (ctx) => dpopRequest(ctx, { proof: { jti: "" } }) },
  { group: "dpop", name: "no htm", expect: dpop401("dpop_proof_claims"), build: (ctx) => dpopRequest(ctx, { proof: { omit: ["htm"] } }) },
  { group: "dpop", name: "no htu", expect: dpop401("dpop_proof_claims"), build: (ctx) => dpopRequest(ctx, { proof: { omit: ["htu"] } }) },
  { group: "dpop", name: "no iat", expect: dpop401("dpop_proof_claims"), build: (ctx) => dpopRequest(ctx, { proof: { omit: ["iat"] } }) },
  { group: "dpop", name: "no jwk header", expect: dpop401("dpop_proof_malformed"), build: (ctx) => dpopRequest(ctx, { proof: { omitJwk: true } }) },
  {
    group: "dpop",
    name: "the jwk of another key than the signer's",
    expect: dpop401("dpop_proof_signature"),
    build: (ctx) => dpopRequest(ctx, { proof: { jwk: ctx.thief.publicJwk } }),
  },
  {
    group: "dpop",
    name: "a tampered proof payload (htu changed after signing)",
    expect: dpop401("dpop_proof_signature"),
    build: async (ctx) => {
      const token = await accessToken(ctx);
      const proof = await ctx.phone.proof({ htm: "GET", htu: "http://shop.test/v1/elsewhere", accessToken: token });
      return dpopRequest(ctx, { token, dpop: swapPayload(proof, { ...decodePayload(proof), htu: "http://shop.test/v1/cart" }) });
    },
  },
  {
    group: "dpop",
    name: "a tampered proof signature",
    expect: dpop401("dpop_proof_signature"),
    build: async (ctx) => {
      const token = await accessToken(ctx);
      const proof = await ctx.phone.proof({ htm: "GET", htu: "http://shop.test/v1/cart", accessToken: token });
      return dpopRequest(ctx, { token, dpop: tamper(proof, 2) });
    },
  },
  { group: "dpop", name: "a proof that is not a JWS", expect: dpop401("dpop_proof_malformed"), build: (ctx) => dpopRequest(ctx, { dpop: "garbage" }) },
  {
    group: "dpop",
    name: "two proofs in one DPoP header",
    expect: meaning("duplicate_header"),
    build: async (ctx) => {
      const token = await accessToken(ctx);
      const one = await ctx.phone.proof({ htm: "GET", htu: "http://shop.test/v1/cart", accessToken: token });
      const two = await ctx.phone.proof({ htm: "GET", htu: "http://shop.test/v1/cart", accessToken: token });
      return dpopRequest(ctx, { token, dpop: `${one}, ${two}` });
    },
  },
  {
    group: "dpop",
    name: "two DPoP headers",
    expect: meaning("duplicate_header"),
    build: async (ctx) => {
      const token = await accessToken(ctx);
      const one = await ctx.phone.proof({ htm: "GET", htu: "http://shop.test/v1/cart", accessToken: token });
      const two = await ctx.phone.proof({ htm: "GET", htu: "http://shop.test/v1/cart", accessToken: token });
      return dpopRequest(ctx, { token, dpop: one, extra: [["dpop", two]] });
    },
  },
  { group: "dpop", name: "an oversized proof", expect: dpop401("dpop_proof_oversized"), build: (ctx) => dpopRequest(ctx, { proof: { claims: { pad: "x".repeat(9000) } } }) },
  { group: "dpop", name: "a token without cnf", expect: dpop401("dpop_token_not_bound"), build: async (ctx) => dpopRequest(ctx, { token: await accessToken(ctx, { key: null }) }) },
  {
    group: "dpop",
    name: "a token whose cnf.jkt is not a string",
    expect: dpop401("dpop_token_not_bound"),
    build: async (ctx) => dpopRequest(ctx, { token: await accessToken(ctx, { key: null, claims: { cnf: { jkt: 42 } } }) }),
  },
  { group: "dpop", name: "a nonce the server never issued", expect: dpop401("dpop_nonce_required"), build: (ctx) => dpopRequest(ctx, { proof: { nonce: "made-up" } }) },

  // --- htu: the URI the proof names --------------------------------------------------------------
  { group: "htu", name: "another path", expect: dpop401("dpop_proof_htu"), build: (ctx) => dpopRequest(ctx, { proof: { htu: "http://shop.test/v1/users/alice/orders" } }) },
  { group: "htu", name: "another host", expect: dpop401("dpop_proof_htu"), build: (ctx) => dpopRequest(ctx, { proof: { htu: "http://evil.test/v1/cart" } }) },
  { group: "htu", name: "https where the request was http", expect: dpop401("dpop_proof_htu"), build: (ctx) => dpopRequest(ctx, { proof: { htu: "https://shop.test/v1/cart" } }) },
  {
    group: "htu",
    name: "another host in htu, claimed by x-forwarded-host",
    expect: dpop401("dpop_proof_htu"),
    build: (ctx) => dpopRequest(ctx, { proof: { htu: "http://evil.test/v1/cart" }, extra: [["x-forwarded-host", "evil.test"]] }),
  },
  { group: "htu", name: "a non-default port", expect: dpop401("dpop_proof_htu"), build: (ctx) => dpopRequest(ctx, { proof: { htu: "http://shop.test:8443/v1/cart" } }) },
  { group: "htu", name: "a trailing slash", expect: dpop401("dpop_proof_htu"), build: (ctx) => dpopRequest(ctx, { proof: { htu: "http://shop.test/v1/cart/" } }) },
  { group: "htu", name: "the path in another case", expect: dpop401("dpop_proof_htu"), build: (ctx) => dpopRequest(ctx, { proof: { htu: "http://shop.test/V1/CART" } }) },
  { group: "htu", name: "a relative URI", expect: dpop401("dpop_proof_htu"), build: (ctx) => dpopRequest(ctx, { proof: { htu: "/v1/cart" } }) },
  { group: "htu", name: "another scheme (ftp)", expect: dpop401("dpop_proof_htu"), build: (ctx) => dpopRequest(ctx, { proof: { htu: "ftp://shop.test/v1/cart" } }) },
  {
    group: "htu",
    name: "a URI with user info of another host",
    expect: dpop401("dpop_proof_htu"),
    build: (ctx) => dpopRequest(ctx, { proof: { htu: "http://shop.test@evil.test/v1/cart" } }),
  },
  { group: "htu", name: "valid: scheme and host in upper case", expect: pass, build: (ctx) => dpopRequest(ctx, { proof: { htu: "HTTP://SHOP.TEST/v1/cart" } }) },
  { group: "htu", name: "valid: the default port spelled out", expect: pass, build: (ctx) => dpopRequest(ctx, { proof: { htu: "http://shop.test:80/v1/cart" } }) },
  { group: "htu", name: "valid: query and fragment in htu are ignored", expect: pass, build: (ctx) => dpopRequest(ctx, { proof: { htu: "http://shop.test/v1/cart?page=2#top" } }) },
  { group: "htu", name: "valid: a request with a query, htu without", expect: pass, build: (ctx) => dpopRequest(ctx, { path: "/v1/cart?page=2&sort=asc" }) },
  {
    group: "htu",
    // The client is the TCP peer unless the policy trusts proxies (spec.clientAddress): Envoy
    // then writes x-forwarded-proto itself, and a client's https claim does not change the URI.
    name: "https in htu with an x-forwarded-proto: https the client wrote (no trusted proxy)",
    expect: dpop401("dpop_proof_htu"),
    build: (ctx) => dpopRequest(ctx, { proof: { htu: "https://shop.test/v1/cart" }, extra: [["x-forwarded-proto", "https"]] }),
  },
  { group: "htu", name: "valid: dot segments in htu", expect: pass, build: (ctx) => dpopRequest(ctx, { proof: { htu: "http://shop.test/v1/x/../cart" } }) },
  { group: "htu", name: "valid: a percent-encoded unreserved character in htu", expect: pass, build: (ctx) => dpopRequest(ctx, { proof: { htu: "http://shop.test/v1/c%61rt" } }) },

  // --- more valid DPoP requests -------------------------------------------------------------------
  { group: "dpop", name: "valid: a fresh proof", expect: pass, build: (ctx) => dpopRequest(ctx) },
  { group: "dpop", name: "valid: PUT with a proof for PUT", expect: pass, build: (ctx) => dpopRequest(ctx, { method: "PUT" }) },
  {
    group: "dpop",
    name: "valid: an EdDSA proof key",
    expect: pass,
    build: async (ctx) => dpopRequest(ctx, { token: await accessToken(ctx, { key: ctx.edPhone }), proofKey: ctx.edPhone }),
  },
  {
    group: "dpop",
    name: "valid: a PS256 proof key",
    expect: pass,
    build: async (ctx) => dpopRequest(ctx, { token: await accessToken(ctx, { key: ctx.psPhone }), proofKey: ctx.psPhone }),
  },
  {
    group: "dpop",
    name: "valid: a token of the RS256 provider",
    expect: pass,
    build: withToken((ctx) => ctx.rsaIdp.sign({ sub: "alice", cnf: { jkt: ctx.phone.jkt } }, { audience: AUDIENCE })),
  },
  { group: "dpop", name: "valid: a proof 50 s old", expect: pass, build: (ctx) => dpopRequest(ctx, { proof: { iat: now() - 50 } }) },
  { group: "dpop", name: "valid: a proof 3 s ahead (clock skew)", expect: pass, build: (ctx) => dpopRequest(ctx, { proof: { iat: now() + 3 } }) },

  // --- server nonces (wallet) ---------------------------------------------------------------------
  { group: "nonce", name: "no nonce where one is required", expect: dpop401("dpop_nonce_required"), build: (ctx) => dpopRequest(ctx, { target: "wallet", path: "/v1/balance" }) },
  {
    group: "nonce",
    name: "a forged nonce",
    expect: dpop401("dpop_nonce_required"),
    build: (ctx) => dpopRequest(ctx, { target: "wallet", path: "/v1/balance", proof: { nonce: `${"z".repeat(8)}.${"A".repeat(43)}` } }),
  },
  {
    group: "nonce",
    name: "a nonce from a past slot",
    expect: dpop401("dpop_nonce_required"),
    build: (ctx) => dpopRequest(ctx, { target: "wallet", path: "/v1/balance", proof: { nonce: ctx.staleNonce } }),
  },

  // --- app versions (checked first: 426) --------------------------------------------------------
  { group: "app-version", name: "4.3.0-beta", expect: authz(426, "app_version_malformed"), build: version("4.3.0-beta") },
  { group: "app-version", name: "v4.3", expect: authz(426, "app_version_malformed"), build: version("v4.3") },
  { group: "app-version", name: "v4.3.0", expect: authz(426, "app_version_malformed"), build: version("v4.3.0") },
  { group: "app-version", name: "4.3", expect: authz(426, "app_version_malformed"), build: version("4.3") },
  { group: "app-version", name: "4.3.0.1", expect: authz(426, "app_version_malformed"), build: version("4.3.0.1") },
  { group: "app-version", name: "04.3.0", expect: authz(426, "app_version_malformed"), build: version("04.3.0") },
  { group: "app-version", name: "garbage", expect: authz(426, "app_version_malformed"), build: version("latest") },
  { group: "app-version", name: "a huge major version", expect: authz(426, "app_version_malformed"), build: version("99999999.0.0") },
  { group: "app-version", name: "full-width digits (non-ASCII)", expect: authz(426, "app_version_malformed"), build: version(utf8AsLatin1("４.３.０")) },
  { group: "app-version", name: "two version headers", expect: meaning("duplicate_header"), build: (ctx) => dpopRequest(ctx, { extra: [["x-app-version", "1.0.0"]] }) },
  { group: "app-version", name: "outdated on iOS", expect: authz(426, "app_version_outdated"), build: version("4.2.9") },
  { group: "app-version", name: "outdated on Android", expect: authz(426, "app_version_outdated"), build: version("4.2.0", "android") },
  { group: "app-version", name: "outdated on a platform without its own minimum", expect: authz(426, "app_version_outdated"), build: version("2.9.9", "windows") },
  { group: "app-version", name: "no version", expect: authz(426, "app_version_missing"), build: version(null) },
  { group: "app-version", name: "valid: the platform in upper case", expect: pass, build: version("4.3.0", "IOS") },
  { group: "app-version", name: "valid: 10.0.0 is newer than 4.3.0", expect: pass, build: version("10.0.0") },
  { group: "app-version", name: "valid: Android's own minimum", expect: pass, build: version("4.2.1", "android") },

  // --- attestation (checkout) ---------------------------------------------------------------------
  { group: "attestation", name: "missing", expect: authz(401, "attestation_missing"), build: checkout(null) },
  {
    group: "attestation",
    name: "forged: the attester's kid, another key",
    expect: authz(401, "attestation_invalid"),
    build: checkout((ctx) => attestation(ctx, { issuer: ctx.attestForger })),
  },
  { group: "attestation", name: "for another audience", expect: authz(401, "attestation_invalid"), build: checkout((ctx) => attestation(ctx, { audience: "projects/other" })) },
  { group: "attestation", name: "for another app", expect: authz(401, "attestation_app_id"), build: checkout((ctx) => attestation(ctx, { sub: "com.evil.clone" })) },
  { group: "attestation", name: "expired", expect: authz(401, "attestation_invalid"), build: checkout((ctx) => attestation(ctx, { iat: now() - 600, lifetimeSeconds: 300 })) },
  {
    group: "attestation",
    name: "older than its maximum age",
    expect: authz(401, "attestation_invalid"),
    build: checkout((ctx) => attestation(ctx, { iat: now() - 7200, lifetimeSeconds: 7800 })),
  },
  { group: "attestation", name: "issued in the future", expect: authz(401, "attestation_invalid"), build: checkout((ctx) => attestation(ctx, { iat: now() + 600 })) },
  {
    group: "attestation",
    name: "from another issuer",
    expect: authz(401, "attestation_invalid"),
    build: checkout((ctx) => ctx.attester.signRaw({ payload: { iss: "https://evil.example.com/", sub: APP_ID, aud: "projects/shop", iat: now(), exp: now() + 300 } })),
  },
  {
    group: "attestation",
    name: "alg none",
    expect: authz(401, "attestation_invalid"),
    build: checkout(() => Promise.resolve(new UnsecuredJWT({ sub: APP_ID, aud: "projects/shop" }).setIssuer(ATTESTER).setIssuedAt().setExpirationTime("5m").encode())),
  },
  {
    group: "attestation",
    name: "HS256 with the attester's public key as the secret",
    expect: authz(401, "attestation_invalid"),
    build: checkout(async (ctx) =>
      hs256({ iss: ATTESTER, sub: APP_ID, aud: "projects/shop", iat: now(), exp: now() + 300 }, new TextEncoder().encode(await ctx.attester.publicKeyPem()), {
        kid: ctx.attester.kid,
      }),
    ),
  },
  {
    group: "attestation",
    name: "without sub",
    expect: authz(401, "attestation_invalid"),
    build: checkout((ctx) => ctx.attester.signRaw({ payload: { iss: ATTESTER, aud: "projects/shop", iat: now(), exp: now() + 300 } })),
  },
  { group: "attestation", name: "an access token instead", expect: authz(401, "attestation_invalid"), build: checkout((ctx) => accessToken(ctx)) },
  { group: "attestation", name: "garbage", expect: authz(401, "attestation_invalid"), build: checkout(() => Promise.resolve("garbage")) },
  {
    group: "attestation",
    name: "oversized",
    expect: authz(401, "attestation_oversized"),
    build: checkout((ctx) => ctx.attester.signRaw({ payload: { iss: ATTESTER, sub: APP_ID, aud: "projects/shop", iat: now(), exp: now() + 300, pad: "x".repeat(9000) } })),
  },
  { group: "attestation", name: "valid: a genuine app's attestation", expect: pass, build: checkout((ctx) => attestation(ctx)) },

  // --- ownership (BOLA) ---------------------------------------------------------------------------
  { group: "ownership", name: "another user's orders", expect: authz(403, "ownership_mismatch"), build: (ctx) => dpopRequest(ctx, { path: "/v1/users/bob/orders" }) },
  { group: "ownership", name: "the owner's name in another case", expect: authz(403, "ownership_mismatch"), build: (ctx) => dpopRequest(ctx, { path: "/v1/users/ALICE/orders" }) },
  {
    group: "ownership",
    name: "an encoded path traversal in the owner segment (redirected to its normal form)",
    expect: { kind: "envoy", status: 307 },
    build: (ctx) => dpopRequest(ctx, { path: "/v1/users/alice%2F..%2Fbob/orders" }),
  },
  {
    group: "ownership",
    name: "a token without sub",
    expect: authz(403, "ownership_claim_missing"),
    build: async (ctx) => dpopRequest(ctx, { path: "/v1/users/alice/orders", token: await ctx.idp.sign({ cnf: { jkt: ctx.phone.jkt } }, { audience: AUDIENCE }) }),
  },
  { group: "ownership", name: "valid: the owner", expect: pass, build: (ctx) => dpopRequest(ctx, { path: "/v1/users/alice/orders" }) },

  // --- certificate-bound tokens (bank) -------------------------------------------------------------
  { group: "certificate", name: "presented with another client certificate", expect: authz(401, "certificate_mismatch"), build: bank({ certificate: "mallory" }) },
  { group: "certificate", name: "presented without a client certificate", expect: authz(401, "certificate_missing"), build: bank({ certificate: "none" }) },
  { group: "certificate", name: "presented over plaintext", expect: authz(401, "certificate_missing"), build: bank({ certificate: "plaintext" }) },
  { group: "certificate", name: "a token without cnf", expect: authz(401, "certificate_token_not_bound"), build: bank({ cnf: () => undefined }) },
  { group: "certificate", name: "a DPoP-bound token", expect: authz(401, "certificate_token_not_bound"), build: bank({ cnf: (ctx) => ({ jkt: ctx.phone.jkt }) }) },
  {
    group: "certificate",
    name: "the thumbprint in hex instead of base64url",
    expect: authz(401, "certificate_mismatch"),
    build: bank({ cnf: (ctx) => ({ "x5t#S256": Buffer.from(ctx.certificates.alice.thumbprint, "base64url").toString("hex") }) }),
  },
  {
    group: "certificate",
    name: "bound to mallory's certificate, presented with alice's",
    expect: authz(401, "certificate_mismatch"),
    build: bank({ cnf: (ctx) => ({ "x5t#S256": ctx.certificates.mallory.thumbprint }) }),
  },
  { group: "certificate", name: "valid: the certificate the token is bound to", expect: pass, build: bank({}) },

  // --- malformed and oversized headers -------------------------------------------------------------
  {
    group: "headers",
    name: "an oversized Authorization header",
    expect: jwt(BAD_HEADER),
    build: (ctx) => dpopRequest(ctx, { authorization: `DPoP ${"a".repeat(20_000)}.${"b".repeat(20_000)}.c` }),
  },
  {
    group: "headers",
    name: "headers over Envoy's limit",
    expect: { kind: "envoy", status: 431 },
    build: (ctx) => dpopRequest(ctx, { extra: [["x-padding", "p".repeat(70 * 1024)]] }),
  },
  {
    group: "headers",
    name: "more headers than Envoy accepts",
    expect: { kind: "envoy", status: 431 },
    build: (ctx) => dpopRequest(ctx, { extra: Array.from({ length: 120 }, (_, i): [string, string] => [`x-h${i}`, "1"]) }),
  },
  {
    group: "headers",
    name: "two Authorization headers (a valid one and another token)",
    expect: meaning("duplicate_header"),
    build: async (ctx) => dpopRequest(ctx, { extra: [["authorization", `DPoP ${await accessToken(ctx, { sub: "bob" })}`]] }),
  },
  {
    group: "headers",
    name: "non-ASCII bytes in the DPoP header",
    expect: dpop401("dpop_proof_malformed"),
    build: (ctx) => dpopRequest(ctx, { dpop: utf8AsLatin1("épreuve.jwt.signé") }),
  },
  {
    group: "headers",
    name: "non-ASCII bytes in the token",
    expect: jwt(/^Jwt signature is an invalid Base64url encoded$/),
    build: async (ctx) => dpopRequest(ctx, { authorization: `DPoP ${await accessToken(ctx)}${utf8AsLatin1("é")}` }),
  },
  {
    group: "headers",
    name: "a proof with a scheme in the DPoP header",
    expect: dpop401("dpop_proof_malformed"),
    build: async (ctx) => {
      const token = await accessToken(ctx);
      return dpopRequest(ctx, { token, dpop: `DPoP ${await ctx.phone.proof({ htm: "GET", htu: "http://shop.test/v1/cart", accessToken: token })}` });
    },
  },
  { group: "headers", name: "an empty DPoP header", expect: dpop401("dpop_proof_missing"), build: (ctx) => dpopRequest(ctx, { dpop: "" }) },

  // --- token age (maxTokenAge: jwt_authn bounds exp - now; bulwark authz checks iat) -------------
  {
    group: "token",
    name: "issued longer ago than the maximum token age, still unexpired",
    expect: dpop401("token_too_old"),
    build: withToken((ctx) => ctx.idp.signRaw({ payload: tokenPayload(ctx, { iat: now() - MAX_TOKEN_AGE_SECONDS - 120, exp: now() + 60 }) })),
  },
  {
    group: "token",
    name: "no iat while a maximum token age applies",
    expect: dpop401("token_iat_missing"),
    build: withToken((ctx) => ctx.idp.signRaw({ payload: without(tokenPayload(ctx), "iat") })),
  },
  {
    group: "token",
    name: "iat in the future (no nbf)",
    expect: dpop401("token_iat_future"),
    build: withToken((ctx) => ctx.idp.signRaw({ payload: tokenPayload(ctx, { iat: now() + 300, exp: now() + 500 }) })),
  },
  {
    group: "token",
    name: "valid: issued just within the maximum token age",
    expect: pass,
    build: withToken((ctx) => ctx.idp.signRaw({ payload: tokenPayload(ctx, { iat: now() - MAX_TOKEN_AGE_SECONDS + 30, exp: now() + 30 }) })),
  },

  // --- critical header parameters (RFC 7515 section 4.1.11): no JWS extension is understood -------
  {
    group: "token",
    name: "an access token with an unknown critical header parameter (refused by rbac on the verified header)",
    expect: { kind: "envoy", status: 403 },
    build: withToken((ctx) => ctx.idp.signRaw({ header: { crit: ["urn:example:ext"], "urn:example:ext": true }, payload: tokenPayload(ctx), crit: { "urn:example:ext": true } })),
  },
  {
    group: "token",
    name: "an access token with a critical b64 parameter",
    expect: { kind: "envoy", status: 403 },
    build: withToken((ctx) => ctx.idp.signRaw({ header: { crit: ["b64"], b64: true }, payload: tokenPayload(ctx) })),
  },
  {
    group: "dpop",
    name: "a proof with an unknown critical header parameter",
    expect: dpop401("dpop_proof_malformed"),
    build: async (ctx) => {
      const token = await accessToken(ctx);
      const claims = { jti: randomUUID(), htm: "GET", htu: "http://shop.test/v1/cart", iat: now(), ath: createHash("sha256").update(token).digest("base64url") };
      const proof = await new SignJWT(claims)
        .setProtectedHeader({ alg: "ES256", typ: "dpop+jwt", jwk: ctx.phone.publicJwk, crit: ["urn:example:ext"], "urn:example:ext": 1 })
        .sign(ctx.phone.privateKey, { crit: { "urn:example:ext": true } });
      return dpopRequest(ctx, { token, dpop: proof });
    },
  },
  {
    group: "attestation",
    name: "with an unknown critical header parameter",
    expect: authz(401, "attestation_invalid"),
    build: checkout((ctx) =>
      ctx.attester.signRaw({
        header: { crit: ["urn:example:ext"], "urn:example:ext": 1 },
        payload: { iss: ATTESTER, sub: APP_ID, aud: "projects/shop", iat: now(), exp: now() + 300, jti: randomUUID(), ...GENUINE_DEVICE },
        crit: { "urn:example:ext": true },
      }),
    ),
  },

  // --- attestation replay and verdicts (single-use tokens, requiredClaims) ------------------------
  {
    group: "attestation",
    name: "a replayed single-use token",
    expect: authz(401, "attestation_replayed"),
    build: async (ctx) => {
      const token = await attestation(ctx);
      const first = await ctx.send(await checkout(() => Promise.resolve(token))(ctx));
      if (first.status !== 200) throw new Error(`the first use of the attestation answered ${first.status} ${first.body}`);
      return checkout(() => Promise.resolve(token))(ctx);
    },
  },
  {
    group: "attestation",
    name: "without jti (single-use tokens need one)",
    expect: authz(401, "attestation_jti_missing"),
    build: checkout((ctx) => attestation(ctx, { claims: { jti: undefined } })),
  },
  {
    group: "attestation",
    name: "a device that meets only basic integrity",
    expect: authz(401, "attestation_verdict"),
    build: checkout((ctx) => attestation(ctx, { claims: { deviceIntegrity: { deviceRecognitionVerdict: ["MEETS_BASIC_INTEGRITY"] } } })),
  },
  {
    group: "attestation",
    name: "no verdict at all",
    expect: authz(401, "attestation_verdict"),
    build: checkout((ctx) => attestation(ctx, { claims: { deviceIntegrity: undefined } })),
  },

  // --- single-value headers sent twice: refused, never joined (RFC 9110 section 5.3) ---------------
  {
    group: "headers",
    name: "two platform headers whose joined value (ios,windows) meets the default minimum only",
    expect: meaning("duplicate_header"),
    build: (ctx) => dpopRequest(ctx, { appVersion: "3.5.0", platform: "ios", extra: [["x-app-platform", "windows"]] }),
  },
  {
    group: "headers",
    name: "a platform header with a comma",
    expect: meaning("duplicate_header"),
    build: (ctx) => dpopRequest(ctx, { appVersion: "3.5.0", platform: "ios,windows" }),
  },
  { group: "headers", name: "two Host headers", expect: meaning("duplicate_header"), build: (ctx) => dpopRequest(ctx, { extra: [["host", "evil.test"]] }) },
  {
    group: "headers",
    name: "two attestation headers (a genuine one and garbage)",
    expect: meaning("duplicate_header"),
    build: async (ctx) =>
      dpopRequest(ctx, {
        method: "POST",
        path: "/v1/checkout",
        extra: [
          ["x-app-attestation", await attestation(ctx)],
          ["x-app-attestation", "garbage"],
        ],
      }),
  },
  {
    group: "headers",
    name: "two Authorization headers on a public route",
    expect: meaning("duplicate_header"),
    build: async (ctx) => ({
      target: "shop",
      method: "GET",
      path: "/health",
      headers: [
        ["authorization", `Bearer ${await accessToken(ctx)}`],
        ["authorization", "Bearer x"],
      ],
    }),
  },
  {
    group: "headers",
    name: "a header name with an underscore (x_user_id for x-user-id)",
    expect: { kind: "envoy", status: 400 },
    build: (ctx) => dpopRequest(ctx, { extra: [["x_user_id", "bob"]] }),
  },

  // --- the Authorization scheme in any case (RFC 9110 section 11.1) --------------------------------
  {
    group: "token",
    name: "valid: the scheme in lower case (dpop)",
    expect: pass,
    build: async (ctx) => {
      const token = await accessToken(ctx);
      return dpopRequest(ctx, { token, authorization: `dpop ${token}` });
    },
  },
  {
    group: "token",
    name: "valid: the scheme in upper case (DPOP)",
    expect: pass,
    build: async (ctx) => {
      const token = await accessToken(ctx);
      return dpopRequest(ctx, { token, authorization: `DPOP ${token}` });
    },
  },
  {
    group: "token",
    name: "a DPoP-bound token sent as a bearer token in lower case",
    expect: jwt(MISSING),
    build: async (ctx) => dpopRequest(ctx, { authorization: `bearer ${await accessToken(ctx)}` }),
  },
  { group: "certificate", name: "valid: the Bearer scheme in upper case (BEARER)", expect: pass, build: async (ctx) => withScheme(await bank({})(ctx), "BEARER") },
  { group: "certificate", name: "valid: the Bearer scheme in lower case", expect: pass, build: async (ctx) => withScheme(await bank({})(ctx), "bearer") },

  // --- requests the backend treats as a protected route (Express, Spring before 6, Rails, servlets) ---
  {
    group: "equivalent",
    name: "another user's orders, the path in upper case",
    expect: authz(403, "ownership_mismatch"),
    build: (ctx) => dpopRequest(ctx, { path: "/V1/USERS/bob/orders" }),
  },
  {
    group: "equivalent",
    name: "another user's orders, with a trailing slash",
    expect: authz(403, "ownership_mismatch"),
    build: (ctx) => dpopRequest(ctx, { path: "/v1/users/bob/orders/" }),
  },
  {
    group: "equivalent",
    name: "another user's orders, with a path parameter",
    expect: meaning("path_parameters"),
    build: (ctx) => dpopRequest(ctx, { path: "/v1/users;v=1/bob/orders" }),
  },
  {
    group: "equivalent",
    name: "another user's orders, a path parameter in the last segment",
    expect: meaning("path_parameters"),
    build: (ctx) => dpopRequest(ctx, { path: "/v1/users/bob/orders;jsessionid=x?page=1" }),
  },
  {
    group: "equivalent",
    name: "another user's orders, a percent-encoded path parameter (%3B)",
    expect: meaning("path_parameters"),
    build: (ctx) => dpopRequest(ctx, { path: "/v1/users%3bv=1/bob/orders" }),
  },
  {
    group: "equivalent",
    name: "another user's orders, an encoded slash (%2F, redirected to its normal form)",
    expect: { kind: "envoy", status: 307 },
    build: (ctx) => dpopRequest(ctx, { path: "/v1/users%2Fbob/orders" }),
  },
  {
    group: "equivalent",
    name: "another user's orders, an encoded backslash (%5C, redirected to its normal form)",
    expect: { kind: "envoy", status: 307 },
    build: (ctx) => dpopRequest(ctx, { path: "/v1/users%5Cbob/orders" }),
  },
  {
    group: "equivalent",
    name: "another user's orders, encoded dot segments (%2E%2E) resolved before any check",
    expect: authz(403, "ownership_mismatch"),
    build: (ctx) => dpopRequest(ctx, { path: "/v1/users/alice/%2E%2E/bob/orders" }),
  },
  {
    group: "equivalent",
    name: "another user's orders, an encoded letter (%62 is b) decoded before any check",
    expect: authz(403, "ownership_mismatch"),
    build: (ctx) => dpopRequest(ctx, { path: "/v1/users/%62ob/orders" }),
  },
  {
    group: "equivalent",
    name: "another user's orders with HEAD",
    expect: authz(403, "ownership_mismatch"),
    build: (ctx) => dpopRequest(ctx, { method: "HEAD", path: "/v1/users/bob/orders" }),
  },
  {
    group: "equivalent",
    name: "another user's orders, POST with X-HTTP-Method-Override: GET",
    expect: meaning("method_override"),
    build: (ctx) => dpopRequest(ctx, { method: "POST", path: "/v1/users/bob/orders", extra: [["x-http-method-override", "GET"]] }),
  },
  {
    group: "equivalent",
    name: "X-HTTP-Method on a public route",
    expect: meaning("method_override"),
    build: () => Promise.resolve({ target: "shop", method: "POST", path: "/health", headers: [["x-http-method", "DELETE"]] }),
  },
  {
    group: "equivalent",
    name: "X-Method-Override on a public route",
    expect: meaning("method_override"),
    build: () => Promise.resolve({ target: "shop", method: "POST", path: "/health", headers: [["x-method-override", "DELETE"]] }),
  },
  {
    group: "equivalent",
    name: "checkout in upper case without an attestation",
    expect: authz(401, "attestation_missing"),
    build: (ctx) => dpopRequest(ctx, { method: "POST", path: "/V1/Checkout" }),
  },
  {
    group: "equivalent",
    name: "checkout with a trailing slash without an attestation",
    expect: authz(401, "attestation_missing"),
    build: (ctx) => dpopRequest(ctx, { method: "POST", path: "/v1/checkout/" }),
  },
  { group: "equivalent", name: "the cart in upper case without a token", expect: jwt(MISSING), build: (ctx) => dpopRequest(ctx, { path: "/V1/CART", authorization: null }) },
  { group: "equivalent", name: "valid: the owner's orders in upper case", expect: pass, build: (ctx) => dpopRequest(ctx, { path: "/V1/Users/alice/Orders" }) },
  { group: "equivalent", name: "valid: the owner's orders with HEAD", expect: pass, build: (ctx) => dpopRequest(ctx, { method: "HEAD", path: "/v1/users/alice/orders" }) },
  {
    group: "equivalent",
    name: "valid: a public page",
    expect: pass,
    build: () =>
      Promise.resolve({
        target: "shop",
        method: "GET",
        path: "/about",
        headers: [
          ["x-app-version", "4.3.0"],
          ["x-app-platform", "ios"],
        ],
      }),
  },
  {
    group: "equivalent",
    name: "a strict backend: the path in another case is no route (404)",
    expect: { kind: "envoy", status: 404 },
    build: (ctx) => dpopRequest(ctx, { target: "wallet", path: "/v1/BALANCE" }),
  },
  {
    group: "equivalent",
    name: "a strict backend: a trailing slash is no route (404)",
    expect: { kind: "envoy", status: 404 },
    build: (ctx) => dpopRequest(ctx, { target: "wallet", path: "/v1/balance/" }),
  },

  // --- proofs made by the npm DPoP clients apps use ---------------------------------------------------
  { group: "clients", name: "valid: a proof by the dpop package (ES256)", expect: pass, build: (ctx) => dpopPackageRequest(ctx, "ES256") },
  { group: "clients", name: "valid: a proof by the dpop package (Ed25519, alg Ed25519)", expect: pass, build: (ctx) => dpopPackageRequest(ctx, "Ed25519") },
  { group: "clients", name: "valid: a proof by oauth4webapi (ES256)", expect: pass, build: (ctx) => oauthClientRequest(ctx, "ES256") },
  { group: "clients", name: "valid: a proof by oauth4webapi (Ed25519, alg Ed25519)", expect: pass, build: (ctx) => oauthClientRequest(ctx, "Ed25519") },
  {
    group: "clients",
    name: "a proof by the dpop package for another URI",
    expect: dpop401("dpop_proof_htu"),
    build: async (ctx) => {
      const keys = await dpopClient.generateKeyPair("Ed25519");
      const token = await accessToken(ctx, { key: null, claims: { cnf: { jkt: await dpopClient.calculateThumbprint(keys.publicKey) } } });
      return dpopRequest(ctx, { token, dpop: await dpopClient.generateProof(keys, "http://shop.test/v1/users/alice/orders", "GET", undefined, token) });
    },
  },
];

/** Refusals in the corpus (the issue asks for at least 80). */
export const refusalCount = corpus.filter((c) => c.expect.kind !== "pass").length;
