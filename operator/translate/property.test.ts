import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeResource } from "../../envoy/proto/encode.js";
import { xdsFiles } from "./render.js";
import { inputFor, policySpecArbitrary } from "../testdata/random-policies.js";
import { render } from "./render.js";

describe("translation of random valid policies", () => {
  it("never throws, is deterministic, and encodes as real protobuf", () => {
    let encoded = 0;
    fc.assert(
      fc.property(policySpecArbitrary, fc.nat(), (spec, n) => {
        const input = inputFor(spec);
        const first = render(input);
        const [resolved] = first.resolution.policies;
        // The generator only makes valid policies; a refusal would be a generator or schema bug.
        expect(resolved?.accepted.status, resolved?.accepted.message).toBe("True");
        expect(first.workloads).toHaveLength(1);
        expect(JSON.stringify(render(input))).toBe(JSON.stringify(first));
        if (n % 10 === 0) {
          for (const type of xdsFiles) for (const r of first.workloads[0]?.resources[type] ?? []) encodeResource(r.resource);
          encoded += 1;
        }
      }),
      { numRuns: 2000, seed: 20261125 },
    );
    expect(encoded).toBeGreaterThan(50);
  }, 120_000);
});
