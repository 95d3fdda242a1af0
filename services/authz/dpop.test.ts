import { generateKeyPairSync, KeyObject, sign } from "node:crypto";
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { DpopKey, TestIssuer } from "../../test/support/authz-client.js";
import type { Decision } from "./decision.js";
import { accessTokenHash, BoundedCache, checkDpop, normaliseHtu, requestHtu, type DpopConfig, type DpopDeps } from "./dpop.js";
import { DpopNonces } from "./dpop-nonce.js";
import { MemoryReplayStore } from "./replay-store.js";
import type { AuthzRequest } from "./request.js";

const config: DpopConfig = { required: true, maxProofAgeSeconds: 60, algorithms: ["ES256", "EdDSA", "PS256"], requireNonce: false };
const URI = "https://api.example.com/v1/users/alice/orders";

function deps(overrides: Partial<DpopDeps> = {}): DpopDeps {
  return { now: Date.now, replay: new MemoryReplayStore(Date.now, { rememberedSince: 0 }), nonces: new DpopNonces({ secret: "0123456789abcdef0123" }), ...overrides };
}

/** A compact JWS signed with node:crypto, for headers jose refuses to produce. ES256 or RS256 only. */
function signedRaw(header: Record<string, unknown>, payload: Record<string, unknown>, privateKey: KeyObject): string {
  const input = `${Buffer.from(JSON.stringify(header)).toString("base64url")}.${Buffer.from(JSON.stringify(payload)).toString("base64url")}`;
  const signature = sign("sha256", Buffer.from(input), privateKey.asymmetricKeyType === "ec" ? { key: privateKey, dsaEncoding: "ieee-p1363" } : privateKey);
  return `${input}.${signature.toString("base64url")}`;
}

function reason(decision: Decision | undefined): string {
  if (decision === undefined) return "allowed";
  return decision.allowed ? "allowed" : decision.reason;
}

describe("DPoP proofs (RFC 9449)", () => {
  let key: DpopKey;
  let other: DpopKey;
  let issuer: TestIssuer;
  let token: string;
  let payload: Record<string, unknown>;

  beforeAll(async () => {
    key = await DpopKey.generate("ES256");
    other = await DpopKey.generate("ES256");
    issuer = await TestIssuer.create("https://id.example.com/");
    payload = { sub: "alice", cnf: { jkt: key.jkt } };
    token = await issuer.sign(payload, { audience: "shop" });
  });

  function request(proof: string | undefined, extra: Partial<AuthzRequest> = {}): AuthzRequest {
    return {
      method: "GET",
      scheme: "https",
      host: "api.example.com",
      path: "/v1/users/alice/orders?page=2",
      headers: { authorization: `DPoP ${token}`, ...(proof !== undefined ? { dpop: proof } : {}) },
      jwtPayload: payload,
      ...extra,
    };
  }

  it("accepts a valid proof, and refuses the same proof a second time", async () => {
    const proof = await key.proof({ htm: "GET", htu: URI, accessToken: token });
    const d = deps();
    expect(reason(await checkDpop(request(proof), config, d))).toBe("allowed");
    expect(reason(await checkDpop(request(proof), config, d))).toBe("dpop_proof_replayed");
  });

  it("remembers a proof for as long as it can be accepted: a proof from skew seconds ahead, replayed at the last accepted millisecond, is refused", async () => {
    const t0 = 1_900_000_000_000;
    let now = t0;
    const d = deps({ now: () => now, replay: new MemoryReplayStore(() => now) });
    const proof = await key.proof({ htm: "GET", htu: URI, accessToken: token, iat: t0 / 1000 + 5 });
    expect(reason(await checkDpop(request(proof), config, d))).toBe("allowed");
    now = t0 + (config.maxProofAgeSeconds + 5) * 1000; // now - iat == maxProofAge: still fresh
    expect(reason(await checkDpop(request(proof), config, d))).toBe("dpop_proof_replayed");
  });

  it("after a restart, refuses proofs that may have been used before it (issued before the store's memory began + skew), then accepts fresh ones", async () => {
    const restart = 1_900_000_000_000;
    let now = restart + 1000;
    const d = deps({ now: () => now, replay: new MemoryReplayStore(() => now, { rememberedSince: restart }) });
    const usedBefore = await key.proof({ htm: "GET", htu: URI, accessToken: token, iat: restart / 1000 - 10 });
    expect(reason(await checkDpop(request(usedBefore), config, d))).toBe("dpop_proof_predates_replay_cache");
    // Dated ahead of the restart by less than the skew: it could have been presented before the restart.
    const aheadClock = await key.proof({ htm: "GET", htu: URI, accessToken: token, iat: restart / 1000 + 4 });
    expect(reason(await checkDpop(request(aheadClock), config, d))).toBe("dpop_proof_predates_replay_cache");
    now = restart + 5000;
    const fresh = await key.proof({ htm: "GET", htu: URI, accessToken: token, iat: restart / 1000 + 5 });
    expect(reason(await checkDpop(request(fresh), config, d))).toBe("allowed");
  });

  it("normalises htu: case of scheme and host, default port, percent-encoding, query and fragment", async () => {
    expect(normaliseHtu("HTTPS://API.Example.com:443/v1/users/%61lice/orders?x=1#f")).toBe("https://api.example.com/v1/users/alice/orders");
    expect(normaliseHtu("https://api.example.com/a%2fb")).toBe("https://api.example.com/a%2Fb");
    expect(normaliseHtu("ftp://x/")).toBeUndefined();
    expect(requestHtu({ scheme: "https", host: "api.example.com:443", path: "/v1/users/alice/orders?q" })).toBe(URI);
    const proof = await key.proof({ htm: "GET", htu: "HTTPS://API.EXAMPLE.COM:443/v1/users/%61lice/orders#x", accessToken: token });
    expect(reason(await checkDpop(request(proof), config, deps()))).toBe("allowed");
  });

  it("computes ath as base64url SHA-256 of the token", () => {
    expect(accessTokenHash("abc")).toBe("ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
  });

  const cases: [string, () => Promise<{ req: AuthzRequest; cfg?: DpopConfig }>, string][] = [
    ["no proof", () => Promise.resolve({ req: request(undefined) }), "dpop_proof_missing"],
    [
      "two proofs",
      async () => ({ req: request(`${await key.proof({ htm: "GET", htu: URI, accessToken: token })},${await key.proof({ htm: "GET", htu: URI, accessToken: token })}`) }),
      "dpop_proof_multiple",
    ],
    ["an oversized proof", () => Promise.resolve({ req: request("a".repeat(9000)) }), "dpop_proof_oversized"],
    ["garbage", () => Promise.resolve({ req: request("not-a-jwt") }), "dpop_proof_malformed"],
    ["another method", async () => ({ req: request(await key.proof({ htm: "POST", htu: URI, accessToken: token })) }), "dpop_proof_htm"],
    ["a lower-case method", async () => ({ req: request(await key.proof({ htm: "get", htu: URI, accessToken: token })) }), "dpop_proof_htm"],
    ["another URI", async () => ({ req: request(await key.proof({ htm: "GET", htu: "https://api.example.com/v1/users/bob/orders", accessToken: token })) }), "dpop_proof_htu"],
    ["another host", async () => ({ req: request(await key.proof({ htm: "GET", htu: "https://evil.example.com/v1/users/alice/orders", accessToken: token })) }), "dpop_proof_htu"],
    ["another scheme", async () => ({ req: request(await key.proof({ htm: "GET", htu: "http://api.example.com/v1/users/alice/orders", accessToken: token })) }), "dpop_proof_htu"],
    ["a relative htu", async () => ({ req: request(await key.proof({ htm: "GET", htu: "/v1/users/alice/orders", accessToken: token })) }), "dpop_proof_htu"],
    ["a stale iat", async () => ({ req: request(await key.proof({ htm: "GET", htu: URI, accessToken: token, iat: Math.floor(Date.now() / 1000) - 120 })) }), "dpop_proof_iat"],
    [
      "an iat in the future",
      async () => ({ req: request(await key.proof({ htm: "GET", htu: URI, accessToken: token, iat: Math.floor(Date.now() / 1000) + 60 })) }),
      "dpop_proof_iat",
    ],
    ["a wrong ath", async () => ({ req: request(await key.proof({ htm: "GET", htu: URI, accessToken: "another-token" })) }), "dpop_proof_ath"],
    ["no ath", async () => ({ req: request(await key.proof({ htm: "GET", htu: URI })) }), "dpop_proof_ath"],
    ["another key than the token's binding", async () => ({ req: request(await other.proof({ htm: "GET", htu: URI, accessToken: token })) }), "dpop_key_mismatch"],
    ["typ JWT", async () => ({ req: request(await key.proof({ htm: "GET", htu: URI, accessToken: token, typ: "JWT" })) }), "dpop_proof_typ"],
    ["no jti", async () => ({ req: request(await key.proof({ htm: "GET", htu: URI, accessToken: token, omit: ["jti"] })) }), "dpop_proof_claims"],
    ["no iat", async () => ({ req: request(await key.proof({ htm: "GET", htu: URI, accessToken: token, omit: ["iat"] })) }), "dpop_proof_claims"],
    ["no htu", async () => ({ req: request(await key.proof({ htm: "GET", htu: URI, accessToken: token, omit: ["htu"] })) }), "dpop_proof_claims"],
    ["an iat as a string", async () => ({ req: request(await key.proof({ htm: "GET", htu: URI, accessToken: token, claims: { iat: "now" } })) }), "dpop_proof_claims"],
    [
      "an algorithm the policy does not allow",
      async () => {
        const rsa = await DpopKey.generate("RS256");
        return { req: request(await rsa.proof({ htm: "GET", htu: URI, accessToken: token })) };
      },
      "dpop_proof_alg",
    ],
    [
      "alg none",
      () => {
        const header = Buffer.from(JSON.stringify({ alg: "none", typ: "dpop+jwt", jwk: key.publicJwk })).toString("base64url");
        const body = Buffer.from(JSON.stringify({ jti: "x", htm: "GET", htu: URI, iat: Math.floor(Date.now() / 1000) })).toString("base64url");
        return Promise.resolve({ req: request(`${header}.${body}.`) });
      },
      "dpop_proof_alg",
    ],
    [
      "HS256 with the public key as secret",
      async () => {
        const proof = await new SignJWT({ jti: "x", htm: "GET", htu: URI, iat: Math.floor(Date.now() / 1000) })
          .setProtectedHeader({ alg: "HS256", typ: "dpop+jwt", jwk: key.publicJwk })
          .sign(new TextEncoder().encode(JSON.stringify(key.publicJwk)));
        return { req: request(proof), cfg: { ...config, algorithms: [...config.algorithms, "HS256"] } };
      },
      "dpop_proof_malformed",
    ],
    [
      "a tampered payload",
      async () => {
        const [h, , s] = (await key.proof({ htm: "GET", htu: URI, accessToken: token })).split(".");
        const forged = Buffer.from(JSON.stringify({ jti: "y", htm: "GET", htu: URI, iat: Math.floor(Date.now() / 1000), ath: accessTokenHash(token) })).toString("base64url");
        return { req: request(`${h}.${forged}.${s}`) };
      },
      "dpop_proof_signature",
    ],
    [
      "a signature by another key under this jwk",
      async () => ({ req: request(await other.proof({ htm: "GET", htu: URI, accessToken: token, jwk: key.publicJwk })) }),
      "dpop_proof_signature",
    ],
    [
      "a private key in jwk",
      async () => ({ req: request(await key.proof({ htm: "GET", htu: URI, accessToken: token, jwk: { ...key.publicJwk, d: "AAAA" } })) }),
      "dpop_proof_private_key",
    ],
    [
      "no jwk",
      async () => {
        const proof = await new SignJWT({ jti: "x", htm: "GET", htu: URI, iat: Math.floor(Date.now() / 1000) })
          .setProtectedHeader({ alg: "ES256", typ: "dpop+jwt" })
          .sign(key.privateKey);
        return { req: request(proof) };
      },
      "dpop_proof_malformed",
    ],
    [
      "a DPoP-bound token under the Bearer scheme",
      async () => ({
        req: request(await key.proof({ htm: "GET", htu: URI, accessToken: token }), {
          headers: { authorization: `Bearer ${token}`, dpop: await key.proof({ htm: "GET", htu: URI, accessToken: token }) },
        }),
      }),
      "dpop_bound_token_as_bearer",
    ],
    [
      "an unbound token where DPoP is required",
      async () => ({ req: request(await key.proof({ htm: "GET", htu: URI, accessToken: token }), { jwtPayload: { sub: "alice" } }) }),
      "dpop_token_not_bound",
    ],
    ["a token Envoy did not verify", async () => ({ req: request(await key.proof({ htm: "GET", htu: URI, accessToken: token }), { jwtPayload: undefined }) }), "token_missing"],
    ["a malformed Authorization header", () => Promise.resolve({ req: request(undefined, { headers: { authorization: "DPoP a b" } }) }), "token_malformed"],
    [
      "no nonce where one is required",
      async () => ({ req: request(await key.proof({ htm: "GET", htu: URI, accessToken: token })), cfg: { ...config, requireNonce: true } }),
      "dpop_nonce_required",
    ],
    [
      "a forged nonce",
      async () => ({ req: request(await key.proof({ htm: "GET", htu: URI, accessToken: token, nonce: "abc.xyz" })), cfg: { ...config, requireNonce: true } }),
      "dpop_nonce_required",
    ],
  ];

  it.each(cases)("refuses %s", async (_name, make, expected) => {
    const { req, cfg } = await make();
    const decision = await checkDpop(req, cfg ?? config, deps());
    expect(reason(decision)).toBe(expected);
    if (decision && !decision.allowed) {
      expect(decision.status).toBe(401);
      const challenge = decision.headers.find((h) => h.name === "www-authenticate")?.value ?? "";
      expect(challenge).toMatch(/^DPoP error="(invalid_dpop_proof|invalid_token|use_dpop_nonce)"/);
      expect(decision.headers).toContainEqual({ name: "x-bulwark-reason", value: expected });
      expect(decision.body).not.toContain(token);
    }
  });

  it("says invalid_dpop_proof for a bad proof and use_dpop_nonce with a fresh nonce", async () => {
    const bad = await checkDpop(request(await key.proof({ htm: "POST", htu: URI, accessToken: token })), config, deps());
    expect(bad && !bad.allowed && bad.headers.find((h) => h.name === "www-authenticate")?.value).toMatch(/^DPoP error="invalid_dpop_proof"/);
    const d = deps();
    const noNonce = await checkDpop(request(await key.proof({ htm: "GET", htu: URI, accessToken: token })), { ...config, requireNonce: true }, d);
    const nonce = noNonce && !noNonce.allowed ? noNonce.headers.find((h) => h.name === "dpop-nonce")?.value : undefined;
    expect(noNonce && !noNonce.allowed && noNonce.headers.find((h) => h.name === "www-authenticate")?.value).toMatch(/^DPoP error="use_dpop_nonce"/);
    expect(nonce).toBeDefined();
    const ok = await checkDpop(request(await key.proof({ htm: "GET", htu: URI, accessToken: token, nonce })), { ...config, requireNonce: true }, d);
    expect(reason(ok)).toBe("allowed");
  });

  it("refuses a nonce from two slots ago", () => {
    let now = Date.now();
    const nonces = new DpopNonces({ secret: "0123456789abcdef0123", slotSeconds: 60, now: () => now });
    const old = nonces.current();
    now += 61_000;
    expect(nonces.isValid(old)).toBe(true);
    now += 60_000;
    expect(nonces.isValid(old)).toBe(false);
    expect(new DpopNonces({ secret: "another-secret-of-20b" }).isValid(nonces.current())).toBe(false);
  });

  it("lets an unbound token pass when DPoP is optional, and still checks a bound one", async () => {
    const optional = { ...config, required: false };
    expect(reason(await checkDpop(request(undefined, { jwtPayload: { sub: "alice" }, headers: { authorization: `Bearer ${token}` } }), optional, deps()))).toBe("allowed");
    expect(reason(await checkDpop(request(undefined), optional, deps()))).toBe("dpop_proof_missing");
    expect(reason(await checkDpop(request(undefined, { jwtPayload: undefined, headers: {} }), config, deps()))).toBe("allowed");
  });

  it("refuses a replay across replicas that share the store, and fails closed when the store is down", async () => {
    const shared = new MemoryReplayStore(Date.now, { rememberedSince: 0 });
    const proof = await key.proof({ htm: "GET", htu: URI, accessToken: token });
    expect(reason(await checkDpop(request(proof), config, deps({ replay: shared })))).toBe("allowed");
    expect(reason(await checkDpop(request(proof), config, deps({ replay: shared })))).toBe("dpop_proof_replayed");
    const down = { firstUse: (): Promise<boolean> => Promise.reject(new Error("ECONNREFUSED")), rememberedSince: (): number => 0, close: (): Promise<void> => Promise.resolve() };
    const decision = await checkDpop(request(await key.proof({ htm: "GET", htu: URI, accessToken: token })), config, deps({ replay: down }));
    expect(decision && !decision.allowed && [decision.status, decision.reason]).toEqual([503, "replay_store_unavailable"]);
  });

  it("accepts EdDSA and PS256 proofs when allowed", async () => {
    for (const alg of ["EdDSA", "PS256"]) {
      const k = await DpopKey.generate(alg);
      const t = await issuer.sign({ sub: "alice", cnf: { jkt: k.jkt } }, { audience: "shop" });
      const req = request(await k.proof({ htm: "GET", htu: URI, accessToken: t }), { headers: { authorization: `DPoP ${t}` }, jwtPayload: { sub: "alice", cnf: { jkt: k.jkt } } });
      req.headers = { ...req.headers, dpop: await k.proof({ htm: "GET", htu: URI, accessToken: t }) };
      expect(reason(await checkDpop(req, config, deps())), alg).toBe("allowed");
    }
  });
  it("accepts ES384, ES512 and RS256 proofs when allowed", async () => {
    const all = { ...config, algorithms: ["ES384", "ES512", "RS256"] };
    for (const alg of all.algorithms) {
      const k = await DpopKey.generate(alg);
      const t = await issuer.sign({ sub: "alice", cnf: { jkt: k.jkt } }, { audience: "shop" });
      const req = request(await k.proof({ htm: "GET", htu: URI, accessToken: t }), { headers: { authorization: `DPoP ${t}` }, jwtPayload: { sub: "alice", cnf: { jkt: k.jkt } } });
      req.headers = { ...req.headers, dpop: await k.proof({ htm: "GET", htu: URI, accessToken: t }) };
      expect(reason(await checkDpop(req, all, deps())), alg).toBe("allowed");
    }
  });

  async function signedWith(header: Record<string, unknown>, claims: Record<string, unknown>, signer = key): Promise<string> {
    const body = { jti: crypto.randomUUID(), htm: "GET", htu: URI, iat: Math.floor(Date.now() / 1000), ath: accessTokenHash(token), ...claims };
    return new SignJWT(body).setProtectedHeader({ alg: signer.alg, typ: "dpop+jwt", jwk: signer.publicJwk, ...header }).sign(signer.privateKey);
  }

  it.each<[string, () => Promise<string>, string]>([
    ["an expired proof (exp)", () => signedWith({}, { exp: Math.floor(Date.now() / 1000) - 1 }), "dpop_proof_iat"],
    ["a proof not valid yet (nbf)", () => signedWith({}, { nbf: Math.floor(Date.now() / 1000) + 30 }), "dpop_proof_claims"],
    ["an exp that is not a number", () => signedWith({}, { exp: "later" }), "dpop_proof_claims"],
    [
      "a critical header extension",
      () =>
        Promise.resolve(
          signedRaw(
            { alg: "ES256", typ: "dpop+jwt", jwk: key.publicJwk, crit: ["x-ext"], "x-ext": 1 },
            { jti: "crit", htm: "GET", htu: URI, iat: Math.floor(Date.now() / 1000), ath: accessTokenHash(token) },
            KeyObject.from(key.privateKey),
          ),
        ),
      "dpop_proof_malformed",
    ],
    [
      "a jwk of another curve than the algorithm's",
      async () => {
        const p384 = await generateKeyPair("ES384", { extractable: true });
        return signedWith({ jwk: await exportJWK(p384.publicKey) }, {});
      },
      "dpop_proof_malformed",
    ],
    ["a jwk that is an array", () => signedWith({ jwk: [key.publicJwk] }, {}), "dpop_proof_malformed"],
    [
      "a jwk whose key_ops do not include verify",
      async () => {
        const k = await DpopKey.generate("ES256");
        return signedWith({ jwk: { ...k.publicJwk, key_ops: [] } }, {}, k);
      },
      "dpop_proof_malformed",
    ],
    ["a proof whose signature part is not base64url", async () => `${await signedWith({}, {})}!`, "dpop_proof_malformed"],
    ["a proof without a signature", async () => (await signedWith({}, {})).replace(/\.[^.]*$/, "."), "dpop_proof_signature"],
  ])("refuses %s", async (_name, make, expected) => {
    expect(reason(await checkDpop(request(await make()), config, deps()))).toBe(expected);
  });

  it("refuses an RSA proof key shorter than 2048 bits", async () => {
    const weak = generateKeyPairSync("rsa", { modulusLength: 1024 });
    const jwk = weak.publicKey.export({ format: "jwk" }) as JWK;
    const jkt = await calculateJwkThumbprint(jwk);
    const t = await issuer.sign({ sub: "alice", cnf: { jkt } }, { audience: "shop" });
    const proof = signedRaw(
      { alg: "RS256", typ: "dpop+jwt", jwk },
      { jti: "weak", htm: "GET", htu: URI, iat: Math.floor(Date.now() / 1000), ath: accessTokenHash(t) },
      weak.privateKey,
    );
    const decision = await checkDpop(
      request(proof, { headers: { authorization: `DPoP ${t}`, dpop: proof }, jwtPayload: { sub: "alice", cnf: { jkt } } }),
      { ...config, algorithms: ["RS256"] },
      deps(),
    );
    expect(reason(decision)).toBe("dpop_proof_malformed");
  });

  it("checks every proof of a known key again: the header's key is cached, never the verdict", async () => {
    const first = await key.proof({ htm: "GET", htu: URI, accessToken: token });
    expect(reason(await checkDpop(request(first), config, deps()))).toBe("allowed");
    // Same header (same key), forged signature from another key, another algorithm list.
    expect(reason(await checkDpop(request(await other.proof({ htm: "GET", htu: URI, accessToken: token, jwk: key.publicJwk })), config, deps()))).toBe("dpop_proof_signature");
    expect(reason(await checkDpop(request(await key.proof({ htm: "GET", htu: URI, accessToken: token })), { ...config, algorithms: ["EdDSA"] }, deps()))).toBe("dpop_proof_alg");
  });

  it("keeps the keys of two proof headers apart when they share a kid, and a header's cached key passes no other key's proof", async () => {
    const nowS = (): number => Math.floor(Date.now() / 1000);
    const victim = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const attacker = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const victimJwk = { ...(victim.publicKey.export({ format: "jwk" }) as JWK), kid: "device" };
    const attackerJwk = { ...(attacker.publicKey.export({ format: "jwk" }) as JWK), kid: "device" };
    const victimJkt = await calculateJwkThumbprint(victimJwk);
    const attackerJkt = await calculateJwkThumbprint(attackerJwk);
    const victimToken = await issuer.sign({ sub: "alice", cnf: { jkt: victimJkt } }, { audience: "shop" });
    const attackerToken = await issuer.sign({ sub: "mallory", cnf: { jkt: attackerJkt } }, { audience: "shop" });
    const as = (t: string, jkt: string, proof: string): AuthzRequest =>
      request(proof, { headers: { authorization: `DPoP ${t}`, dpop: proof }, jwtPayload: { sub: "x", cnf: { jkt } } });
    const claims = (jti: string, t: string): Record<string, unknown> => ({ jti, htm: "GET", htu: URI, iat: nowS(), ath: accessTokenHash(t) });
    const d = deps();
    // Both headers cached, same kid, different keys: each proof verifies with its own header's key only.
    expect(
      reason(await checkDpop(as(victimToken, victimJkt, signedRaw({ alg: "ES256", typ: "dpop+jwt", jwk: victimJwk }, claims("v1", victimToken), victim.privateKey)), config, d)),
    ).toBe("allowed");
    expect(
      reason(
        await checkDpop(
          as(attackerToken, attackerJkt, signedRaw({ alg: "ES256", typ: "dpop+jwt", jwk: attackerJwk }, claims("a1", attackerToken), attacker.privateKey)),
          config,
          d,
        ),
      ),
    ).toBe("allowed");
    // The victim's cached header, signed by the attacker: the cached key is the victim's, the signature does not verify.
    const forged = signedRaw({ alg: "ES256", typ: "dpop+jwt", jwk: victimJwk }, claims("a2", victimToken), attacker.privateKey);
    expect(reason(await checkDpop(as(victimToken, victimJkt, forged), config, d))).toBe("dpop_proof_signature");
    // The attacker's header (its key cached) on the victim's token: signature fine, key is not the token's.
    const wrongKey = signedRaw({ alg: "ES256", typ: "dpop+jwt", jwk: attackerJwk }, claims("a3", victimToken), attacker.privateKey);
    expect(reason(await checkDpop(as(victimToken, victimJkt, wrongKey), config, d))).toBe("dpop_key_mismatch");
    // A header that failed to import is not kept: the same header fails the same way again, and the victim still passes.
    const badJwk = { ...victimJwk, x: attackerJwk.y, kid: "device" };
    const bad = signedRaw({ alg: "ES256", typ: "dpop+jwt", jwk: badJwk }, claims("a4", victimToken), attacker.privateKey);
    for (let i = 0; i < 2; i++) expect(reason(await checkDpop(as(victimToken, victimJkt, bad), config, d))).not.toBe("allowed");
    expect(
      reason(await checkDpop(as(victimToken, victimJkt, signedRaw({ alg: "ES256", typ: "dpop+jwt", jwk: victimJwk }, claims("v2", victimToken), victim.privateKey)), config, d)),
    ).toBe("allowed");
  });
});

describe("BoundedCache", () => {
  it("keeps at most its capacity and forgets the least recently used first", () => {
    const cache = new BoundedCache<string, number>(2);
    cache.set("a", 1);
    cache.set("b", 2);
    expect(cache.get("a")).toBe(1);
    cache.set("c", 3);
    expect([cache.get("a"), cache.get("b"), cache.get("c"), cache.size]).toEqual([1, undefined, 3, 2]);
  });

  it("never holds more than its capacity, and keeps what was used within the last capacity/2 insertions", () => {
    const cache = new BoundedCache<number, number>(100);
    for (let i = 0; i < 10_000; i++) {
      cache.set(i, i);
      // Key 0 is used every 40 insertions: it is never forgotten.
      if (i % 40 === 0) expect(cache.get(0)).toBe(0);
      expect(cache.size).toBeLessThanOrEqual(100);
    }
    expect(cache.get(0)).toBe(0);
    expect(cache.get(9_999)).toBe(9_999);
    expect(cache.get(5_000)).toBeUndefined();
    cache.set(9_999, 1);
    expect(cache.get(9_999)).toBe(1);
    cache.delete(9_999);
    expect(cache.get(9_999)).toBeUndefined();
  });

  it("refuses a capacity under 2", () => {
    expect(() => new BoundedCache(1)).toThrow(RangeError);
  });
});
