import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { generateKeyPairSync } from "node:crypto";
import { jwksSecret } from "../../operator/testdata/objects.js";
import { inputFor, policySpecArbitrary } from "../../operator/testdata/random-policies.js";
import { limitsOf } from "./limit-source.js";

const publicJwk = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ format: "jwk" });

/** Every Secret the spec refers to (JWKS), as a valid key set. */
function secretNames(value: unknown, names = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const v of value) secretNames(v, names);
  else if (typeof value === "object" && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      if (k === "secretRef" && typeof (v as { name?: unknown }).name === "string") names.add((v as { name: string }).name);
      else secretNames(v, names);
    }
  }
  return names;
}

const serialised = (index: ReturnType<typeof limitsOf>): string => JSON.stringify([[...index.byName.entries()], [...index.countedByRoute.entries()]]);

describe("limitsOf", () => {
  it("does not depend on Secrets: bulwark ratelimit watches none (its account has no access to them)", () => {
    let withLimits = 0;
    let withSecrets = 0;
    fc.assert(
      fc.property(policySpecArbitrary, (spec) => {
        const bare = inputFor(spec);
        const input = { ...bare, secrets: [...secretNames(spec)].map((name) => jwksSecret("shop", name, { keys: [{ ...publicJwk, kid: "k", alg: "ES256", use: "sig" }] })) };
        if (input.secrets.length > 0) withSecrets += 1;
        const limits = limitsOf(input);
        if (limits.byName.size > 0) withLimits += 1;
        expect(serialised(limitsOf({ ...input, secrets: [] }))).toBe(serialised(limits));
      }),
      { numRuns: 300, seed: 8089 },
    );
    expect(withLimits).toBeGreaterThan(30);
    expect(withSecrets).toBeGreaterThan(30);
  });
});
