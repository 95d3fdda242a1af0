import { z } from "zod";
import { patternString, setList, withRules } from "./validation.js";

/** A Go-style duration in whole hours, minutes and seconds: 30s, 5m, 1h30m. */
export const durationPattern = /^([0-9]{1,4}h)?([0-9]{1,4}m)?([0-9]{1,5}s)?$/;

/** Seconds in a duration string that matches durationPattern. */
export function durationSeconds(value: string): number {
  const match = durationPattern.exec(value);
  if (!match || value === "") return Number.NaN;
  return Number(match[1]?.slice(0, -1) ?? 0) * 3600 + Number(match[2]?.slice(0, -1) ?? 0) * 60 + Number(match[3]?.slice(0, -1) ?? 0);
}

/**
 * A duration bounded by `min` and `max` (Go duration strings), checked by the API server with
 * CEL's duration() and by zod with the same bounds.
 */
export function boundedDuration(options: { description: string; min: string; max: string }): z.ZodString {
  const { min, max } = options;
  const allowed = `must be a duration between ${min} and ${max}, written like 30s, 15m or 1h30m`;
  const base = z.string().max(24);
  return withRules(base, options.description, [
    {
      cel: `self != "" && self.matches(r"${durationPattern.source}") && duration(self) >= duration("${min}") && duration(self) <= duration("${max}")`,
      message: allowed,
      holds: (v) => v !== "" && durationPattern.test(v) && durationSeconds(v) >= durationSeconds(min) && durationSeconds(v) <= durationSeconds(max),
    },
  ]);
}

/** A DNS label (RFC 1123): what Kubernetes accepts as a Service name, and what Bulwark uses in generated names. */
export function dnsLabel(description: string): z.ZodString {
  return patternString({
    pattern: /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/,
    maxLength: 63,
    message: "must be a lowercase DNS label: a-z, 0-9 and '-', starting and ending with a letter or digit, at most 63 characters",
    description,
  });
}

export const httpHeaderName = (description: string): z.ZodString =>
  patternString({
    pattern: /^[A-Za-z0-9][A-Za-z0-9-]*$/,
    maxLength: 64,
    message: "must be an HTTP header name: letters, digits and '-', at most 64 characters",
    description,
  });

export const claimNamePattern = /^[A-Za-z_][A-Za-z0-9_:/.-]*$/;

export const claimName = (description: string): z.ZodString =>
  patternString({
    pattern: claimNamePattern,
    maxLength: 128,
    message: "must be a JWT claim name: a letter or '_' followed by letters, digits and _ : / . -, at most 128 characters",
    description,
  });

/** One or more printable ASCII characters, no spaces: issuers, audiences, app ids. */
export const visibleAscii = /^[!-~]+$/;

export const httpsOrHttpUrl = (description: string): z.ZodString =>
  patternString({
    // Printable ASCII without spaces; the authority ends at the first /, ? or #.
    pattern: /^https?:\/\/[!$-.0->@-~]+([/?#][!-~]*)?$/,
    maxLength: 2048,
    message: "must be an absolute http:// or https:// URL",
    description,
  });

/** A TCP port, 1 to 65535, without leading zeros. */
const portPattern = "([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])";
/** A DNS name or IPv4 address: labels of letters, digits and '-' (Envoy refuses '_' and percent-encoding in a host). */
const hostPattern = "[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\\.?";

/**
 * A URL the sidecar can fetch a JWKS from, in the grammar Envoy's JWT filter accepts: http or
 * https, a DNS name or IPv4 address, an optional port from 1 to 65535, a path and query of URL
 * characters with complete percent-encodings, and no user info or fragment.
 */
export const jwksUriPattern = new RegExp(`^https?://${hostPattern}(:${portPattern})?([/?]([A-Za-z0-9._~!$&'()*+,;=:@/?-]|%[0-9A-Fa-f]{2})*)?$`);

/**
 * An issuer identifier that OpenID Connect Discovery can reach: http or https, a host and port as
 * in jwksUriPattern, a path, and no query, fragment or user info.
 */
export const issuerUrlPattern = new RegExp(`^https?://${hostPattern}(:${portPattern})?(/([A-Za-z0-9._~!$&'()*+,;=:@/-]|%[0-9A-Fa-f]{2})*)?$`);

export const jwksUri = (description: string): z.ZodString =>
  patternString({
    pattern: jwksUriPattern,
    maxLength: 2048,
    message:
      "must be an http:// or https:// URL with a DNS name or IPv4 address (letters, digits, '-' and '.'), an optional port from 1 to 65535, and a path of URL characters with complete %XX encodings; no user info, no fragment (#)",
    description,
  });

/** YYYY-MM-DD with the days each month has (February 29 is checked against leap years separately). */
const datePattern = /^[0-9]{4}-((0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])|(0[13-9]|1[0-2])-(29|30)|(0[13578]|1[02])-31|02-29)$/;

function isLeapYear(year: number): boolean {
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
}

/**
 * A calendar date, YYYY-MM-DD (UTC), that exists: no February 30, no February 29 outside leap
 * years (JavaScript's Date would silently roll those over into March). ISO dates compare
 * correctly as strings.
 */
export const calendarDate = (description: string): z.ZodString => {
  const year = "int(self.substring(0, 4))";
  return withRules(z.string().max(10), description, [
    {
      cel: `self.matches(r"${datePattern.source}") && (!self.endsWith("-02-29") || (${year} % 4 == 0 && (${year} % 100 != 0 || ${year} % 400 == 0)))`,
      message: "must be a date written YYYY-MM-DD that exists in the calendar",
      holds: (v) => datePattern.test(v) && (!v.endsWith("-02-29") || isLeapYear(Number(v.slice(0, 4)))),
    },
  ]);
};

/** MAJOR.MINOR.PATCH without pre-release or build metadata: the version an app build reports. */
export const appVersion = (description: string): z.ZodString =>
  patternString({
    pattern: /^(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})$/,
    maxLength: 20,
    message: "must be a semantic version MAJOR.MINOR.PATCH such as 4.2.0 (numbers without leading zeros)",
    description,
  });

/** A DNS subdomain (RFC 1123): what Kubernetes accepts as the name of most objects, Secrets included. */
export function dnsSubdomain(description: string): z.ZodString {
  return patternString({
    pattern: /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/,
    maxLength: 253,
    message: "must be a lowercase DNS subdomain: a-z, 0-9, '-' and '.', starting and ending with a letter or digit, at most 253 characters",
    description,
  });
}

/** Reference to a key of a Secret (in the policy's namespace) that holds a JSON Web Key Set. */
export const jwksSecretRef = z
  .object({
    name: dnsSubdomain("Name of the Secret, in the policy's namespace."),
    key: patternString({
      pattern: /^[-._a-zA-Z0-9]+$/,
      maxLength: 253,
      message: "must be a Secret data key: letters, digits, '-', '_' and '.'",
      description: "Key in the Secret's data that holds the value.",
    }).default("jwks.json"),
  })
  .strict()
  .meta({ description: "A key of a Secret in the policy's namespace whose value is a JSON Web Key Set (RFC 7517)." });

/** Claims a token must carry, each with one of its listed values (at most 8 claims, names checked by the API server too). */
export function claimValues(description: string, valueDescription = "A value of the claim."): z.ZodRecord<z.ZodString, z.ZodArray<z.ZodString>> {
  // The key's length is part of the rule below: the API server has no keyword for the length of a map key.
  return withRules(
    z.record(z.string(), setList(z.string().max(256).describe(valueDescription), { min: 1, max: 16, description: "Accepted values; one must match." })),
    { description, maxProperties: 8 },
    [
      {
        cel: `self.all(k, k.size() <= 128 && k.matches(r"${claimNamePattern.source}"))`,
        message: "claim names must start with a letter or '_' and contain letters, digits and _ : / . -, at most 128 characters",
        holds: (v) => Object.keys(v).every((k) => k.length <= 128 && claimNamePattern.test(k)),
      },
      { message: "at most 8 claims", holds: (v) => Object.keys(v).length <= 8 },
    ],
  );
}

/** What a header name may be: letters, digits and '-' (what the API and Envoy agree on). */
export const headerNamePattern = /^[A-Za-z0-9][A-Za-z0-9-]*$/;

/** Header names (case-insensitive, at most 64 characters) with the values that match, exactly. */
export function headerValues(description: string): z.ZodRecord<z.ZodString, z.ZodArray<z.ZodString>> {
  const value = patternString({
    pattern: /^[^,]+$/,
    maxLength: 256,
    message: "must be a header value without a comma: a comma separates the copies of a header sent several times",
    description: "A value of the header, compared exactly.",
  });
  return withRules(z.record(z.string(), setList(value, { min: 1, max: 16, description: "The values; one must match." })), { description, maxProperties: 8 }, [
    {
      cel: `self.all(k, k.size() <= 64 && k.matches(r"${headerNamePattern.source}"))`,
      message: "header names must be letters, digits and '-', at most 64 characters",
      holds: (v) => Object.keys(v).every((k) => k.length <= 64 && headerNamePattern.test(k)),
    },
    { message: "at most 8 headers", holds: (v) => Object.keys(v).length <= 8 },
  ]);
}
