import { isIP } from "node:net";
import { z } from "zod";
import { httpHeaderName } from "./common.js";
import { setList, withRules } from "./validation.js";

/**
 * Which address is the client's: what per-address budgets (rate-limit key clientIP) and the
 * rules' clientCIDRs judge. By default the TCP peer; a header only from declared proxies.
 */

/** The address bits of an IPv4 address in dotted decimal without leading zeros, as Go's netip reads it. */
function ipv4Bits(text: string): bigint | undefined {
  const parts = text.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255)) return undefined;
  return parts.reduce((bits, p) => (bits << 8n) | BigInt(p), 0n);
}

/** The address bits of an IPv6 address (with "::" and an optional dotted IPv4 tail), or undefined. */
function ipv6Bits(text: string): bigint | undefined {
  if (isIP(text) !== 6 || text.includes("%")) return undefined;
  const halves = text.split("::");
  const groups = (part: string | undefined): string[] => (part ? part.split(":") : []);
  const expand = (list: string[]): bigint[] | undefined => {
    const out: bigint[] = [];
    for (const group of list) {
      if (group.includes(".")) {
        const v4 = ipv4Bits(group);
        if (v4 === undefined) return undefined;
        out.push(v4 >> 16n, v4 & 0xffffn);
      } else out.push(BigInt(`0x${group}`));
    }
    return out;
  };
  const head = expand(groups(halves[0]));
  const tail = expand(groups(halves[1]));
  if (!head || !tail) return undefined;
  const all = halves.length === 2 ? [...head, ...Array<bigint>(8 - head.length - tail.length).fill(0n), ...tail] : head;
  return all.length === 8 ? all.reduce((bits, g) => (bits << 16n) | g, 0n) : undefined;
}

/**
 * A CIDR the API server's CEL accepts with `isCIDR(self) && cidr(self) == cidr(self).masked()`:
 * an IPv4 or IPv6 network with its host bits zero, not an IPv4-mapped IPv6 one.
 */
export function isCanonicalCidr(text: string): boolean {
  const slash = text.indexOf("/");
  if (slash < 0) return false;
  const address = text.slice(0, slash);
  const lengthText = text.slice(slash + 1);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(lengthText)) return false;
  const v4 = ipv4Bits(address);
  const width = v4 !== undefined ? 32 : 128;
  const bits = v4 ?? ipv6Bits(address);
  const length = Number(lengthText);
  if (bits === undefined || length > width) return false;
  if (v4 === undefined && bits >> 32n === 0xffffn) return false;
  const hostBits = (1n << BigInt(width - length)) - 1n;
  return (bits & hostBits) === 0n;
}

export const cidr = (description: string): z.ZodString =>
  withRules(z.string().max(64), description, [
    {
      cel: "isCIDR(self) && cidr(self) == cidr(self).masked()",
      message: "must be a network in CIDR notation with the bits past the prefix length zero, such as 203.0.113.0/24 or 2001:db8::/32 (IPv4-mapped IPv6 is not allowed)",
      holds: isCanonicalCidr,
    },
  ]);

const cidrList = (description: string): z.ZodArray<z.ZodString> => setList(cidr("A network, e.g. 203.0.113.0/24."), { min: 1, max: 64, description });

export const clientAddress = withRules(
  z
    .object({
      trustedHops: z
        .number()
        .int()
        .min(0)
        .max(10)
        .optional()
        .describe(
          "How many proxies in front of the pods append to X-Forwarded-For (0 to 10). 0: the TCP peer is the client. N: the Nth entry from the right of X-Forwarded-For is the client (the peer when there are fewer). Without trustedCIDRs, only safe when the pods can be reached through those proxies alone.",
        ),
      header: httpHeaderName(
        "A header a trusted proxy sets to the client's bare IP address, e.g. X-Real-IP, CF-Connecting-IP or True-Client-IP (X-Forwarded-For: its rightmost entry). Believed only from peers in trustedCIDRs; a request without a readable address in it is judged by its TCP peer.",
      ).optional(),
      trustedCIDRs: cidrList(
        "Networks of the proxies whose X-Forwarded-For (with trustedHops) or header is believed, at most 64. A request from any other peer is judged by its TCP address, whatever it sends.",
      ).optional(),
    })
    .strict(),
  "Where the client's address comes from, for per-address budgets (rate-limit key clientIP) and the rules' clientCIDRs. Unset: the controller's --client-address-* flags (chart value clientAddress), by default the TCP peer. The app receives the address decided in X-Forwarded-For and X-Envoy-External-Address (and the header, when one is set), never what the client wrote.",
  [
    {
      cel: "has(self.trustedHops) != has(self.header)",
      message: "set exactly one of trustedHops (proxies that append to X-Forwarded-For) or header (with trustedCIDRs)",
      holds: (v) => (v.trustedHops !== undefined) !== (v.header !== undefined),
    },
    {
      cel: "!has(self.header) || has(self.trustedCIDRs)",
      message: "header needs trustedCIDRs: the networks of the proxies allowed to set it",
      fieldPath: ".trustedCIDRs",
      holds: (v) => v.header === undefined || v.trustedCIDRs !== undefined,
    },
    {
      cel: "!has(self.trustedHops) || self.trustedHops > 0 || !has(self.trustedCIDRs)",
      message: "trustedCIDRs needs trustedHops of 1 or more: with 0 the TCP peer is the client and no proxy is believed",
      fieldPath: ".trustedCIDRs",
      holds: (v) => v.trustedHops === undefined || v.trustedHops > 0 || v.trustedCIDRs === undefined,
    },
    {
      cel: "!has(self.header) || self.header.lowerAscii() != 'forwarded'",
      message: "the Forwarded header (RFC 7239) is not supported: use X-Forwarded-For or a header that carries a bare IP address, such as X-Real-IP",
      fieldPath: ".header",
      holds: (v) => v.header === undefined || v.header.toLowerCase() !== "forwarded",
    },
  ],
);

export const clientCIDRs = withRules(
  z
    .object({
      allow: cidrList("Only clients in these networks may use the rule's routes, at most 64.").optional(),
      deny: cidrList("Clients in these networks are refused, even when allow lists them, at most 64.").optional(),
    })
    .strict(),
  "Conditions on the client's address (see spec.clientAddress): a request from outside allow, or from inside deny, is refused with 403 and x-bulwark-reason: client_address_denied before any other check.",
  [{ cel: "has(self.allow) || has(self.deny)", message: "set allow, deny or both", holds: (v) => v.allow !== undefined || v.deny !== undefined }],
);

export type ClientAddress = z.output<typeof clientAddress>;
