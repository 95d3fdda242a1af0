import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeRateLimitRequest, encodeRateLimitResponse } from "./codec.js";
import { genericRateLimitService, type RateLimitRequestMessage, type RateLimitResponseMessage } from "./protocol.js";

const generic = genericRateLimitService().ShouldRateLimit;
if (!generic) throw new Error("no ShouldRateLimit");

const text = fc.string({ unit: "grapheme", maxLength: 40 });
const code = fc.constantFrom("OK" as const, "OVER_LIMIT" as const);

const request = fc.record({
  domain: text,
  descriptors: fc.array(fc.record({ entries: fc.array(fc.record({ key: text, value: text }), { maxLength: 5 }) }), { maxLength: 4 }),
  hits_addend: fc.nat({ max: 2 ** 32 - 1 }),
});

const response = fc.record({
  overall_code: code,
  statuses: fc.array(
    fc.oneof(fc.record({ code }), fc.record({ code, limit_remaining: fc.nat({ max: 2 ** 32 - 1 }), duration_until_reset: fc.record({ seconds: fc.nat({ max: 2 ** 40 }) }) })),
    { maxLength: 4 },
  ),
  response_headers_to_add: fc.array(fc.record({ key: text, value: text }), { maxLength: 3 }),
});

describe("the ShouldRateLimit codec on the Envoy proto types", () => {
  it("reads every request the proto-loader codec writes, as that codec reads it", () => {
    fc.assert(
      fc.property(request, (message: RateLimitRequestMessage) => {
        const bytes = generic.requestSerialize(message);
        const theirs = generic.requestDeserialize(bytes) as RateLimitRequestMessage;
        const ours = decodeRateLimitRequest(bytes);
        expect(ours).toEqual({
          domain: theirs.domain ?? "",
          hits_addend: theirs.hits_addend ?? 0,
          descriptors: (theirs.descriptors ?? []).map((d) => ({ entries: (d.entries ?? []).map((e) => ({ key: e.key ?? "", value: e.value ?? "" })) })),
        });
      }),
      { numRuns: 300 },
    );
  });

  it("skips fields it does not use (a descriptor's limit override)", () => {
    const bytes = generic.requestSerialize({
      domain: "d",
      descriptors: [{ entries: [{ key: "limit", value: "x" }], limit: { requests_per_unit: 5, unit: "MINUTE" } }],
      hits_addend: 2,
    });
    expect(decodeRateLimitRequest(bytes)).toEqual({ domain: "d", descriptors: [{ entries: [{ key: "limit", value: "x" }] }], hits_addend: 2 });
  });

  it("writes responses byte for byte as the proto-loader codec does", () => {
    fc.assert(
      fc.property(response, (message: RateLimitResponseMessage) => {
        const ours = encodeRateLimitResponse(message);
        expect(Buffer.compare(ours, generic.responseSerialize(message))).toBe(0);
        expect(generic.responseDeserialize(ours)).toEqual(generic.responseDeserialize(generic.responseSerialize(message)));
      }),
      { numRuns: 300 },
    );
  });
});
