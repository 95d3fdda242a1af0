import { describe, expect, it } from "vitest";
import { checkTokenAge, type TokenAgeLimit } from "./token-age.js";

const NOW = 1_800_000_000;
const limits: TokenAgeLimit[] = [
  { issuer: "https://id.example.com/", maxAgeSeconds: 600, clockSkewSeconds: 60 },
  { issuer: "https://partner.example.com/", maxAgeSeconds: 3600, clockSkewSeconds: 5 },
];
const reasonOf = (payload: Record<string, unknown> | undefined, authentication: "Required" | "Optional" = "Required"): string | undefined => {
  const d = checkTokenAge({ payload, limits, authentication, dpop: false, nowMs: NOW * 1000 });
  return d && !d.allowed ? d.reason : undefined;
};
const idp = (claims: Record<string, unknown>): Record<string, unknown> => ({ iss: "https://id.example.com/", ...claims });

describe("checkTokenAge (maxTokenAge)", () => {
  it("passes a fresh token, and one at the edge of age and skew", () => {
    expect(reasonOf(idp({ iat: NOW, exp: NOW + 300 }))).toBeUndefined();
    expect(reasonOf(idp({ iat: NOW - 660, exp: NOW }))).toBeUndefined();
    expect(reasonOf(idp({ iat: NOW + 60, exp: NOW + 600 }))).toBeUndefined();
  });

  it("refuses a token without iat, from the future, too old, or living too long whatever exp says", () => {
    expect(reasonOf(idp({ exp: NOW + 300 }))).toBe("token_iat_missing");
    expect(reasonOf(idp({ iat: "1800000000", exp: NOW + 300 }))).toBe("token_iat_missing");
    expect(reasonOf(idp({ iat: NOW + 61, exp: NOW + 300 }))).toBe("token_iat_future");
    expect(reasonOf(idp({ iat: NOW - 661, exp: NOW + 10 }))).toBe("token_too_old");
    expect(reasonOf(idp({ iat: NOW - 10, exp: NOW - 10 + 661 }))).toBe("token_lifetime_too_long");
  });

  it("applies each issuer's own limit, and none to an issuer without maxTokenAge", () => {
    expect(reasonOf({ iss: "https://partner.example.com/", iat: NOW - 3000, exp: NOW + 60 })).toBeUndefined();
    expect(reasonOf({ iss: "https://partner.example.com/", iat: NOW - 3606, exp: NOW + 60 })).toBe("token_too_old");
    expect(reasonOf({ iss: "https://other.example.com/", exp: NOW + 60 })).toBeUndefined();
  });

  it("refuses a missing token only where authentication is required; the challenge names the scheme", () => {
    expect(reasonOf(undefined)).toBe("token_missing");
    expect(reasonOf(undefined, "Optional")).toBeUndefined();
    const d = checkTokenAge({ payload: idp({ iat: NOW - 5000 }), limits, authentication: "Required", dpop: true, nowMs: NOW * 1000 });
    expect(d && !d.allowed && d.headers.find((h) => h.name === "www-authenticate")?.value).toMatch(/^DPoP error="invalid_token"/);
  });
});
