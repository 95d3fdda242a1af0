import { createHash } from "node:crypto";
import { calculateJwkThumbprint, EmbeddedJWK, exportJWK, generateKeyPair, jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import { dpopKeyFrom, dpopProof, htuOf, otherDpopKey } from "./dpop.js";

describe("the probe's DPoP proofs", () => {
  it("are signed by the user's key, carry it in the header (public part only), and bind method, URI and token", async () => {
    const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
    const key = await dpopKeyFrom({ ...(await exportJWK(privateKey)), alg: "ES256", kid: "phone" });
    const proof = await dpopProof(key, { method: "GET", url: "https://api.test/v1/users/a/orders?page=2#x", accessToken: "tok", nonce: "n1" });
    const { payload, protectedHeader } = await jwtVerify(proof, EmbeddedJWK, { typ: "dpop+jwt" });
    expect(protectedHeader.jwk && (await calculateJwkThumbprint(protectedHeader.jwk))).toBe(await calculateJwkThumbprint(await exportJWK(publicKey)));
    expect(protectedHeader.jwk).not.toHaveProperty("d");
    expect(payload).toMatchObject({ htm: "GET", htu: "https://api.test/v1/users/a/orders", nonce: "n1", ath: createHash("sha256").update("tok").digest("base64url") });
    expect(typeof payload.jti).toBe("string");
  });

  it("another key is another thumbprint", async () => {
    const a = await otherDpopKey();
    const b = await otherDpopKey();
    expect(await calculateJwkThumbprint(a.publicJwk)).not.toBe(await calculateJwkThumbprint(b.publicJwk));
    expect(htuOf("http://h/p?q")).toBe("http://h/p");
  });
});
