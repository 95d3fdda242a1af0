import { describe, expect, it } from "vitest";
import { parseClientAddressFlags } from "./client-address-flags.js";

const unset = { trustedHops: "", header: "", trustedCidrs: "" };

describe("the controller's --client-address-* flags", () => {
  it("make the TCP peer the client when unset or 0", () => {
    expect(parseClientAddressFlags(unset)).toEqual({ from: "peer" });
    expect(parseClientAddressFlags({ ...unset, trustedHops: "0" })).toEqual({ from: "peer" });
  });

  it("trust X-Forwarded-For hops, from the proxies' networks when given", () => {
    expect(parseClientAddressFlags({ ...unset, trustedHops: "2" })).toEqual({ from: "forwardedFor", trustedHops: 2 });
    expect(parseClientAddressFlags({ ...unset, trustedHops: "1", trustedCidrs: "10.0.0.0/8, fd00::/8" })).toEqual({
      from: "forwardedFor",
      trustedHops: 1,
      trustedCIDRs: ["10.0.0.0/8", "fd00::/8"],
    });
  });

  it("trust a header from the proxies' networks; X-Forwarded-For as the header is its rightmost entry", () => {
    expect(parseClientAddressFlags({ ...unset, header: "CF-Connecting-IP", trustedCidrs: "173.245.48.0/20" })).toEqual({
      from: "header",
      header: "cf-connecting-ip",
      trustedCIDRs: ["173.245.48.0/20"],
    });
    expect(parseClientAddressFlags({ ...unset, header: "X-Forwarded-For", trustedCidrs: "10.0.0.0/8" })).toEqual({
      from: "forwardedFor",
      trustedHops: 1,
      trustedCIDRs: ["10.0.0.0/8"],
    });
  });

  it.each([
    [{ ...unset, trustedHops: "two" }, "--client-address-trusted-hops two is not a whole number from 0 to 10"],
    [{ ...unset, trustedHops: "11" }, "--client-address-trusted-hops: Too big"],
    [{ ...unset, header: "X-Real-IP" }, "--client-address-trusted-cidrs: header needs trustedCIDRs"],
    [{ ...unset, header: "X-Real-IP", trustedHops: "1", trustedCidrs: "10.0.0.0/8" }, "exclude each other"],
    [{ ...unset, trustedCidrs: "10.0.0.0/8" }, "--client-address-trusted-cidrs: trustedCIDRs needs trustedHops of 1 or more"],
    [{ ...unset, trustedHops: "1", trustedCidrs: "10.0.0.1/8" }, "--client-address-trusted-cidrs (10.0.0.1/8): must be a network in CIDR notation"],
    [{ ...unset, header: "Forwarded", trustedCidrs: "10.0.0.0/8" }, "--client-address-header: the Forwarded header (RFC 7239) is not supported"],
  ])("refuse %j with a message naming the flag", (flags, message) => {
    expect(() => parseClientAddressFlags(flags)).toThrow(message);
  });
});
