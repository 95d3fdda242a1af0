import { describe, expect, it } from "vitest";
import { isCanonicalCidr } from "./client-address.js";

describe("isCanonicalCidr, as the API server's isCIDR(self) && cidr(self) == cidr(self).masked()", () => {
  it.each([
    "0.0.0.0/0",
    "10.0.0.0/8",
    "203.0.113.7/32",
    "127.0.0.0/8",
    "::/0",
    "2001:db8::/32",
    "2001:DB8:0:0::/64",
    "fd00:10::/64",
    "::1/128",
    "::1.2.3.4/128",
    "2400:cb00::/32",
    "fe80::/10",
  ])("accepts %s", (cidr) => {
    expect(isCanonicalCidr(cidr)).toBe(true);
  });

  it.each([
    ["10.0.0.1/8", "host bits set"],
    ["2001:db8::1/32", "IPv6 host bits set"],
    ["10.0.0.0", "no prefix length"],
    ["10.0.0.0/33", "prefix longer than IPv4"],
    ["2001:db8::/129", "prefix longer than IPv6"],
    ["10.0.0.0/08", "leading zero in the prefix length"],
    ["10.0.0.0/-8", "negative prefix length"],
    ["010.0.0.0/8", "leading zero in an octet"],
    ["256.0.0.0/8", "octet over 255"],
    ["10.0.0/8", "three octets"],
    ["::ffff:10.0.0.0/104", "IPv4-mapped IPv6"],
    ["::ffff:a00:0/104", "IPv4-mapped IPv6 in hex"],
    ["fe80::%eth0/64", "a zone"],
    ["office.example.com/24", "a hostname"],
    ["", "empty"],
    ["10.0.0.0/8 ", "a trailing space"],
  ])("refuses %s (%s)", (cidr) => {
    expect(isCanonicalCidr(cidr)).toBe(false);
  });
});
