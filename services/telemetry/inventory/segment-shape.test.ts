import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_SEGMENTS, PARAM, looksLikeId, pathSegments, shapeTemplate } from "./segment-shape.js";

/** Names an API gives its collections and actions. */
const apiWords = [
  "v1",
  "v2",
  "api",
  "users",
  "orders",
  "me",
  "profile",
  "payments",
  "checkout",
  "login",
  "oauth2",
  "token",
  "health",
  "feature-flags",
  "push_tokens",
  "deadbeef",
  "facade",
  "ipv6config",
  "sha256",
  "well-known",
  "openid-configuration",
  "getUserProfile",
  "thisIsAVeryLongCamelCaseName",
  "order-history.json",
];
const word = fc.stringMatching(/^[a-z]{1,12}(-[a-z]{1,10}){0,2}$/);

describe("looksLikeId", () => {
  it("keeps the names APIs use", () => {
    for (const w of apiWords) expect(looksLikeId(w), w).toBe(false);
    fc.assert(fc.property(word, (w) => !looksLikeId(w)));
  });

  it("collapses numbers, UUIDs, hex and random tokens, emails, dates", () => {
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: 10n ** 30n }), (n) => looksLikeId(n.toString())));
    fc.assert(fc.property(fc.uuid(), (u) => looksLikeId(u) && looksLikeId(u.toUpperCase())));
    fc.assert(fc.property(fc.stringMatching(/^[0-9a-f]{16,40}$/), (h) => looksLikeId(h)));
    fc.assert(
      fc.property(
        fc.emailAddress().filter((e) => !e.includes("/")),
        (e) => looksLikeId(e),
      ),
    );
    fc.assert(
      fc.property(
        fc.date({ min: new Date("1970-01-01"), max: new Date("2999-12-31"), noInvalidDate: true }),
        (d) => looksLikeId(d.toISOString()) && looksLikeId(d.toISOString().slice(0, 10)),
      ),
    );
    // 16 random bytes (a session id, an opaque key) in base64url: 22 characters. Shape alone
    // misses about 1 in 4,000 (letters only, camel-like by chance); the learner's cardinality
    // rule catches those.
    const tokens = fc.sample(fc.uint8Array({ minLength: 16, maxLength: 16 }), { seed: 15, numRuns: 20_000 }).map((b) => Buffer.from(b).toString("base64url"));
    expect(tokens.filter((t) => !looksLikeId(t)).length).toBeLessThan(20);
    for (const id of ["01ARZ3NDEKTSV4RRFFQ69G5FAV", "507f1f77bcf86cd799439011", "+1 (555) 123-4567", "10.0.0.12", "ord_8f3kd92j"]) expect(looksLikeId(id), id).toBe(true);
  });
});

describe("shapeTemplate", () => {
  it("replaces identifier segments by {param} and keeps the rest", () => {
    expect(shapeTemplate("/v1/orders/123")).toBe("/v1/orders/{param}");
    expect(shapeTemplate("/v1/users/3f2b8c9e-0d1a-4c5e-9f7a-2b3c4d5e6f70/devices/42/")).toBe("/v1/users/{param}/devices/{param}");
    expect(shapeTemplate("/v1//users?x=1")).toBe("/v1/users");
    expect(shapeTemplate("/")).toBe("/");
  });

  it("never lets a client forge a placeholder or a slash through encoding", () => {
    expect(shapeTemplate("/v1/%7Bparam%7D/x")).toBe("/v1/{param}/x");
    expect(shapeTemplate("/v1/a%2Fb")).toBe("/v1/{param}");
  });

  it("is idempotent and bounded in depth", () => {
    const segment = fc.oneof(
      word,
      fc.uuid(),
      fc.nat().map(String),
      fc.string({ minLength: 1, maxLength: 30 }).map((s) => encodeURIComponent(s)),
    );
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 40 }), (segments) => {
        const once = shapeTemplate(`/${segments.join("/")}`);
        return shapeTemplate(once) === once && pathSegments(once).length <= MAX_SEGMENTS;
      }),
    );
  });

  it("folds what lies past the depth limit into one {param}", () => {
    const deep = `/${Array.from({ length: 40 }, (_, i) => `s${String.fromCharCode(97 + (i % 26))}`).join("/")}`;
    const segments = pathSegments(shapeTemplate(deep));
    expect(segments).toHaveLength(MAX_SEGMENTS);
    expect(segments.at(-1)).toBe(PARAM);
  });
});
