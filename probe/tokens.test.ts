import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { signedVariant, tamperedToken, unsignedToken } from "./tokens.js";

describe("the tokens an attacker tries", async () => {
  const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
  const claims = { iss: "https://id.example.com/", aud: "shop", sub: "alice", scope: "orders:read" };
  const token = await new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid: "k1" }).setIssuedAt().setExpirationTime("5m").sign(privateKey);

  it("a tampered token keeps the header, changes the subject, and does not verify with the issuer's key", async () => {
    const tampered = await tamperedToken(token, decodeJwt(token));
    expect(decodeProtectedHeader(tampered)).toEqual({ alg: "ES256", kid: "k1" });
    expect(decodeJwt(tampered).sub).toBe("alice-tampered");
    await expect(jwtVerify(tampered, publicKey)).rejects.toThrow();
    await expect(jwtVerify(token, publicKey)).resolves.toBeDefined();
  });

  it("an unsigned token says alg none and has no signature", () => {
    const unsigned = unsignedToken(claims);
    expect(decodeProtectedHeader(unsigned).alg).toBe("none");
    expect(unsigned.endsWith(".")).toBe(true);
  });

  it("signs each invalid variant with the test issuer's key", async () => {
    const key = { jwk: { ...(await exportJWK(privateKey)), kid: "k1", alg: "ES256" } };
    const now = Math.floor(Date.now() / 1000);
    const expired = decodeJwt(await signedVariant(key, claims, "expired"));
    expect(expired.exp).toBeLessThan(now);
    const early = decodeJwt(await signedVariant(key, claims, "not-yet-valid"));
    expect(early.nbf).toBeGreaterThan(now);
    expect(decodeJwt(await signedVariant(key, claims, "wrong-audience")).aud).toBe("probe-wrong-audience");
    const old = await signedVariant(key, claims, "too-old", 600);
    expect(decodeJwt(old).iat).toBeLessThan(now - 600);
    // Really signed by the issuer: only the one invalid property is wrong.
    await expect(jwtVerify(old, publicKey, { audience: "shop" })).resolves.toBeDefined();
  });
});
