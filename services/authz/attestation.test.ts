import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT, type JSONWebKeySet } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { TestIssuer } from "../../test/support/authz-client.js";
import type { AppAttestationIR } from "../../contract/ir.js";
import { checkAttestation } from "./attestation.js";
import { JwksCache } from "./jwks-cache.js";
import { MemoryReplayStore } from "./replay-store.js";

describe("app attestation", () => {
  let attester: TestIssuer;
  let forger: TestIssuer;
  let config: AppAttestationIR;

  beforeAll(async () => {
    attester = await TestIssuer.create("https://attest.example.com");
    forger = await TestIssuer.create("https://attest.example.com");
    config = {
      header: "x-app-attestation",
      issuer: attester.issuer,
      audiences: ["projects/shop"],
      appIds: ["com.example.shop", "com.example.shop.ios"],
      jwks: { kind: "inline", jwks: JSON.stringify(attester.jwks) },
      maxTokenAgeSeconds: 3600,
    };
  });

  /** A store in use for an hour: it remembers every token these tests mint. */
  const store = (): MemoryReplayStore => new MemoryReplayStore(Date.now, { rememberedSince: Date.now() - 3_600_000 });
  const deps = (replay = store()): Parameters<typeof checkAttestation>[2] => ({
    now: Date.now,
    keys: (jwks) => createLocalJWKSet(JSON.parse(jwks.kind === "inline" ? jwks.jwks : "{}") as JSONWebKeySet),
    replay,
  });

  async function outcome(token: string | undefined): Promise<string> {
    const d = await checkAttestation(token === undefined ? {} : { "x-app-attestation": token }, config, deps());
    return d === undefined ? "allowed" : d.allowed ? "allowed" : `${d.status} ${d.reason}`;
  }

  it("accepts a genuine app's token", async () => {
    expect(await outcome(await attester.sign({ sub: "com.example.shop" }, { audience: "projects/shop" }))).toBe("allowed");
  });

  it.each<[string, () => Promise<string | undefined>, string]>([
    ["no token", () => Promise.resolve(undefined), "401 attestation_missing"],
    ["another audience", () => attester.sign({ sub: "com.example.shop" }, { audience: "projects/other" }), "401 attestation_invalid"],
    ["another app id", () => attester.sign({ sub: "com.evil.clone" }, { audience: "projects/shop" }), "401 attestation_app_id"],
    ["no app id", () => attester.sign({}, { audience: "projects/shop" }), "401 attestation_invalid"],
    [
      "an expired token",
      () => attester.sign({ sub: "com.example.shop" }, { audience: "projects/shop", iat: Math.floor(Date.now() / 1000) - 600, lifetimeSeconds: 300 }),
      "401 attestation_invalid",
    ],
    [
      "a token older than the maximum age",
      () => attester.sign({ sub: "com.example.shop" }, { audience: "projects/shop", iat: Math.floor(Date.now() / 1000) - 7200, lifetimeSeconds: 86400 }),
      "401 attestation_invalid",
    ],
    ["a forged token (another key, same kid)", () => forger.sign({ sub: "com.example.shop" }, { audience: "projects/shop" }), "401 attestation_invalid"],
    ["an unknown kid", () => attester.sign({ sub: "com.example.shop" }, { audience: "projects/shop", kid: "nope" }), "401 attestation_invalid"],
    ["garbage", () => Promise.resolve("x.y.z"), "401 attestation_invalid"],
    ["an oversized token", () => Promise.resolve("a".repeat(9000)), "401 attestation_oversized"],
    [
      "HS256 signed with the public key",
      async () =>
        new SignJWT({ sub: "com.example.shop" })
          .setProtectedHeader({ alg: "HS256", kid: "k1" })
          .setIssuer(attester.issuer)
          .setAudience("projects/shop")
          .setIssuedAt()
          .setExpirationTime("5m")
          .sign(new TextEncoder().encode(JSON.stringify(attester.jwks.keys[0]))),
      "401 attestation_invalid",
    ],
  ])("refuses %s", async (_name, make, expected) => {
    expect(await outcome(await make())).toBe(expected);
  });

  it("refuses when the route needs attestation and the policy has none", async () => {
    const d = await checkAttestation({}, undefined, deps());
    expect(d && !d.allowed && d.reason).toBe("attestation_not_configured");
  });

  it("fetches remote keys once, refreshes on an unknown kid at a bounded rate, and keeps the last good keys when the issuer is down", async () => {
    const { publicKey: p2, privateKey: k2 } = await generateKeyPair("ES256");
    let served: JSONWebKeySet = attester.jwks;
    let down = false;
    let now = Date.now();
    const cache = new JwksCache({
      uri: "http://127.0.0.1:1/jwks",
      cacheSeconds: 300,
      minRefreshIntervalMs: 30_000,
      now: () => now,
      fetchJwks: () => (down ? Promise.reject(new Error("down")) : Promise.resolve(served)),
    });
    const remote: AppAttestationIR = {
      ...config,
      jwks: { kind: "remote", uri: "http://127.0.0.1:1/jwks", cacheSeconds: 300, cluster: { name: "jwks/x/1", host: "127.0.0.1", port: 1, tls: false } },
    };
    const run = async (token: string): Promise<string> => {
      const d = await checkAttestation({ "x-app-attestation": token }, remote, { now: () => now, keys: () => cache.getKey, replay: new MemoryReplayStore() });
      return d === undefined ? "allowed" : d.allowed ? "allowed" : d.reason;
    };
    const good = await attester.sign({ sub: "com.example.shop" }, { audience: "projects/shop" });
    expect(await run(good)).toBe("allowed");
    expect(await run(good)).toBe("allowed");
    expect(cache.fetches).toBe(1);

    // The issuer rotates in a new key: the first token with its kid makes one refresh.
    served = { keys: [...served.keys, { ...(await exportJWK(p2)), kid: "k2", alg: "ES256" }] };
    const rotated = await new SignJWT({ sub: "com.example.shop" })
      .setProtectedHeader({ alg: "ES256", kid: "k2" })
      .setIssuer(attester.issuer)
      .setAudience("projects/shop")
      .setIssuedAt()
      .setExpirationTime("5m")
      .sign(k2);
    now += 31_000;
    expect(await run(rotated)).toBe("allowed");
    expect(cache.fetches).toBe(2);
    // Unknown kids right after do not hammer the issuer.
    for (let i = 0; i < 5; i++) expect(await run(await attester.sign({ sub: "com.example.shop" }, { audience: "projects/shop", kid: `x${i}` }))).toBe("attestation_invalid");
    expect(cache.fetches).toBe(2);

    // Issuer down after the cache went stale: last good keys still verify.
    down = true;
    now += 600_000;
    expect(await run(await attester.sign({ sub: "com.example.shop" }, { audience: "projects/shop", iat: Math.floor(now / 1000) }))).toBe("allowed");
    expect(cache.fetches).toBe(3);
  });

  it("fails closed (503) when remote keys were never fetched", async () => {
    const cache = new JwksCache({ uri: "http://127.0.0.1:1/jwks", cacheSeconds: 300, fetchJwks: () => Promise.reject(new Error("down")) });
    const d = await checkAttestation({ "x-app-attestation": await attester.sign({ sub: "com.example.shop" }, { audience: "projects/shop" }) }, config, {
      now: Date.now,
      keys: () => cache.getKey,
      replay: new MemoryReplayStore(),
    });
    expect(d && !d.allowed && [d.status, d.reason]).toEqual([503, "attestation_keys_unavailable"]);
  });

  describe("single-use tokens and verdicts", () => {
    const verdicts = (): AppAttestationIR => ({
      ...config,
      singleUse: true,
      requiredClaims: [
        { name: "deviceIntegrity.deviceRecognitionVerdict", values: ["MEETS_DEVICE_INTEGRITY"] },
        { name: "licensed", values: ["true"] },
      ],
    });
    const genuine = { deviceIntegrity: { deviceRecognitionVerdict: ["MEETS_BASIC_INTEGRITY", "MEETS_DEVICE_INTEGRITY"] }, licensed: true };

    async function check(payload: Record<string, unknown>, replay = store()): Promise<string> {
      const token = await attester.sign({ sub: "com.example.shop", ...payload }, { audience: "projects/shop" });
      const d = await checkAttestation({ "x-app-attestation": token }, verdicts(), deps(replay));
      return d === undefined || d.allowed ? "allowed" : `${d.status} ${d.reason}`;
    }

    it("accepts a token once, refuses it the second time, and refuses a token without jti", async () => {
      const replay = store();
      const token = await attester.sign({ sub: "com.example.shop", jti: "t-1", ...genuine }, { audience: "projects/shop" });
      const run = async (): Promise<string> => {
        const d = await checkAttestation({ "x-app-attestation": token }, verdicts(), deps(replay));
        return d === undefined || d.allowed ? "allowed" : `${d.status} ${d.reason}`;
      };
      expect(await run()).toBe("allowed");
      expect(await run()).toBe("401 attestation_replayed");
      expect(await check(genuine)).toBe("401 attestation_jti_missing");
    });

    it("refuses a token issued before the replay store's memory began (a restarted authz, an emptied Redis)", async () => {
      expect(await check({ jti: "fresh-store", ...genuine }, new MemoryReplayStore())).toBe("401 attestation_predates_replay_cache");
    });

    it.each<[string, Record<string, unknown>, string]>([
      ["the verdicts required", { jti: "a", ...genuine }, "allowed"],
      ["only basic integrity", { jti: "b", ...genuine, deviceIntegrity: { deviceRecognitionVerdict: ["MEETS_BASIC_INTEGRITY"] } }, "401 attestation_verdict"],
      ["no verdict", { jti: "c", licensed: true }, "401 attestation_verdict"],
      ["the verdict as a plain string", { jti: "d", ...genuine, deviceIntegrity: { deviceRecognitionVerdict: "MEETS_DEVICE_INTEGRITY" } }, "allowed"],
      ["licensed false", { jti: "e", ...genuine, licensed: false }, "401 attestation_verdict"],
      ["the verdict in an object instead of a value", { jti: "f", ...genuine, licensed: { value: true } }, "401 attestation_verdict"],
    ])("%s: %s", async (_name, payload, expected) => {
      expect(await check(payload)).toBe(expected);
    });

    it("refuses a token with an unknown critical header parameter", async () => {
      const iat = Math.floor(Date.now() / 1000);
      const token = await attester.signRaw({
        header: { crit: ["urn:example:ext"], "urn:example:ext": 1 },
        payload: { iss: attester.issuer, sub: "com.example.shop", aud: "projects/shop", iat, exp: iat + 300 },
        crit: { "urn:example:ext": true },
      });
      expect(await outcome(token)).toBe("401 attestation_invalid");
    });
  });
});
