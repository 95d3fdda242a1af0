import { describe, expect, it } from "vitest";
import { jwksCases } from "../../test/support/jwks-cases.js";
import { jwksSecret } from "../testdata/objects.js";
import { jwksFromSecret } from "./jwks.js";

const resolve = (jwks: unknown): ReturnType<typeof jwksFromSecret> =>
  jwksFromSecret({ secrets: [jwksSecret("shop", "idp-jwks", jwks)], namespace: "shop", name: "idp-jwks", key: "jwks.json", usedBy: "JWT provider idp" });

describe("JWKS from a Secret: every key is imported before the set is accepted", () => {
  it.each(jwksCases().map((c) => [c.name, c] as const))("%s", (_name, c) => {
    const result = resolve(c.jwks);
    if (!c.refused) {
      expect(result).toEqual({ ok: true, jwks: JSON.stringify({ keys: (c.jwks as { keys: unknown[] }).keys }) });
      return;
    }
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.reason).toBe("InvalidSecret");
    expect(result.message).toMatch(/^Secret shop\/idp-jwks key jwks\.json /);
    expect(result.message).toMatch(c.refused);
    expect(result.message).toMatch(/\(JWKS of JWT provider idp\); its tokens are refused$/);
  });

  it("says when the value is not JSON, and bounds a long kid in the message", () => {
    const notJson = jwksFromSecret({
      secrets: [{ ...jwksSecret("shop", "j", {}), data: { "jwks.json": Buffer.from("{nope").toString("base64") } }],
      namespace: "shop",
      name: "j",
      key: "jwks.json",
      usedBy: "app attestation",
    });
    expect(notJson.ok || notJson.message).toMatch(/key jwks\.json is not JSON \(/);
    const long = resolve({ keys: [{ kty: "XYZ", kid: "k".repeat(500) }] });
    expect(long.ok || long.message.length).toBeLessThan(300);
  });
});
