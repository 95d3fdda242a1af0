import { z } from "zod";
import { callers } from "./callers.js";
import { clientCIDRs } from "./client-address.js";
import { claimName, claimValues, dnsLabel, headerValues, httpHeaderName } from "./common.js";
import { rateLimit } from "./rate-limit.js";
import { patternString, setList, withRules } from "./validation.js";

export const httpMethods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;

/** A URL path without query: /v1/login. */
export const pathPattern = /^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/;
/**
 * Segments that are literal or a whole-segment variable: /v1/users/{userId}/orders/{orderId}.
 * Variable names as Envoy's URI template matcher takes them (a letter first, at most 16
 * characters); no `*`, which Envoy and bulwark ratelimit read as a wildcard and authz's
 * ownership check as a literal character.
 */
export const pathTemplatePattern = /^(\/([A-Za-z0-9._~!$&'()+,;=:@%-]+|\{[A-Za-z][A-Za-z0-9_]{0,15}\}))+\/?$/;
const templateVariable = /\{[A-Za-z][A-Za-z0-9_]{0,15}\}/g;
/** The most variables Envoy's URI template matcher takes in one template. */
export const maxTemplateVariables = 5;

/**
 * What Envoy's path normalisation (normalize_path, merge_slashes, escaped slashes unescaped)
 * rewrites before routes match: a path written with one of these can never match. `//`, a `.`
 * or `..` segment, a percent-encoded unreserved character (%41 is A) or slash (%2F, %5C), or a
 * `%` that does not start a %XX encoding.
 */
export const unnormalisedPath = /\/\/|\/\.\.?(\/|$)|%([^0-9A-Fa-f]|[0-9A-Fa-f][^0-9A-Fa-f]|[0-9A-Fa-f]?$)|%(3[0-9]|4[1-9A-Fa-f]|5[0-9AaCcFf]|6[1-9A-Fa-f]|7[0-9AaEe]|2[D-Fd-f])/;
/** The same for a prefix, which may end inside a segment or an encoding: /v1/. matches /v1/.well-known. */
export const unnormalisedPrefix = /\/\/|\/\.\.?\/|%([^0-9A-Fa-f]|[0-9A-Fa-f][^0-9A-Fa-f])|%(3[0-9]|4[1-9A-Fa-f]|5[0-9AaCcFf]|6[1-9A-Fa-f]|7[0-9AaEe]|2[D-Fd-f])/;
export const unnormalisedMessage =
  "can never match: Envoy normalises request paths before matching, so write it as normalised: no '//', no '.' or '..' segments, no percent-encoded letters, digits, '-', '.', '_', '~' or slashes (write %41 as A), and every % followed by two hex digits";

/** The variable names of a valid path template, in order. */
export function templateVariables(template: string): string[] {
  return [...template.matchAll(templateVariable)].map((m) => m[0].slice(1, -1));
}

const requestMatch = withRules(
  z
    .object({
      methods: setList(z.enum(httpMethods).describe("An HTTP method."), {
        min: 1,
        max: httpMethods.length,
        description: "HTTP methods the rule applies to; any method when absent.",
      }).optional(),
      path: patternString({
        pattern: pathPattern,
        maxLength: 256,
        message: "must be an absolute URL path such as /v1/login (no query string)",
        description: "Exact path.",
      }).optional(),
      pathPrefix: patternString({
        pattern: pathPattern,
        maxLength: 256,
        message: "must be an absolute URL path prefix such as /v1/images/",
        description: "Path prefix; `/v1/images/` matches everything below it.",
      }).optional(),
      pathTemplate: patternString({
        pattern: pathTemplatePattern,
        maxLength: 128,
        message:
          "must be a path template such as /v1/users/{userId}/orders/{orderId}: each {variable} fills a whole segment, braces closed, names of a letter then letters, digits and _ (at most 16 characters); no '*'",
        description: "Path with whole-segment variables, e.g. /v1/users/{userId}; variables can be used by ownership and rate-limit keys.",
      }).optional(),
    })
    .strict(),
  "Which requests the rule applies to: methods and exactly one of path, pathPrefix or pathTemplate.",
  [
    {
      cel: "[has(self.path), has(self.pathPrefix), has(self.pathTemplate)].filter(x, x).size() == 1",
      message: "set exactly one of path, pathPrefix or pathTemplate",
      holds: (v) => [v.path, v.pathPrefix, v.pathTemplate].filter((x) => x !== undefined).length === 1,
    },
    {
      cel: `!has(self.path) || !self.path.matches(r"${unnormalisedPath.source}")`,
      message: `path ${unnormalisedMessage}`,
      fieldPath: ".path",
      holds: (v) => v.path === undefined || !unnormalisedPath.test(v.path),
    },
    {
      cel: `!has(self.pathPrefix) || !self.pathPrefix.matches(r"${unnormalisedPrefix.source}")`,
      message: `pathPrefix ${unnormalisedMessage}`,
      fieldPath: ".pathPrefix",
      holds: (v) => v.pathPrefix === undefined || !unnormalisedPrefix.test(v.pathPrefix),
    },
    {
      cel: `!has(self.pathTemplate) || !self.pathTemplate.matches(r"${unnormalisedPath.source}")`,
      message: `pathTemplate ${unnormalisedMessage}`,
      fieldPath: ".pathTemplate",
      holds: (v) => v.pathTemplate === undefined || !unnormalisedPath.test(v.pathTemplate),
    },
    {
      cel: `!has(self.pathTemplate) || !self.pathTemplate.matches(r"(\\{[^{]*){${maxTemplateVariables + 1}}")`,
      message: `pathTemplate may have at most ${maxTemplateVariables} variables (the limit of Envoy's URI template matcher)`,
      fieldPath: ".pathTemplate",
      holds: (v) => v.pathTemplate === undefined || templateVariables(v.pathTemplate).length <= maxTemplateVariables,
    },
    {
      operatorOnly: "a CEL check of repeated variables exceeds the API server's cost budget for 32 rules",
      message: "pathTemplate variables must have distinct names",
      fieldPath: ".pathTemplate",
      holds: (v) => v.pathTemplate === undefined || new Set(templateVariables(v.pathTemplate)).size === templateVariables(v.pathTemplate).length,
    },
  ],
);

const scopeToken = patternString({
  pattern: /^[!#-[\]-~]+$/,
  maxLength: 128,
  message: "must be an OAuth scope token: printable ASCII without spaces, quotes or backslashes",
  description: "A scope.",
});

const requirements = z
  .object({
    scopes: setList(scopeToken, {
      min: 1,
      max: 16,
      description: "Scopes the token must carry, all of them (in the space-separated `scope` claim or the `scp` array).",
    }).optional(),
    claims: claimValues("Claims the token must carry, each with one of the listed values (a claim that is an array matches when it contains one of them).").optional(),
  })
  .strict()
  .meta({ description: "What a verified token must carry for the rule to allow the request; 403 otherwise." });

/** Conditions on the request beyond the path, the token's scopes and claims, and the client's network. */
export const conditions = withRules(
  z
    .object({
      headers: headerValues("Headers the request must carry, each with one of the listed values (all listed headers); 403 otherwise.").optional(),
      notHeaders: headerValues("Headers that refuse the request (403) when they carry one of the listed values.").optional(),
      notClaims: claimValues(
        "Claims of the verified token that refuse the request (403) when they hold one of the listed values (an array claim when it contains one).",
      ).optional(),
    })
    .strict(),
  "Conditions on a request, as Istio's `when` and Envoy Gateway's authorization rules: required header values, refused header values and refused claim values, checked by the sidecar's RBAC filter. A header whose value is required must arrive once (400 otherwise: the app might read another copy than the one checked); a refused value refuses the request in any copy of its header.",
  [
    {
      cel: "has(self.headers) || has(self.notHeaders) || has(self.notClaims)",
      message: "set headers, notHeaders or notClaims",
      holds: (v) => v.headers !== undefined || v.notHeaders !== undefined || v.notClaims !== undefined,
    },
  ],
);

/** Cache-Control directives as RFC 9111 writes them: tokens, some with `=` and a number, separated by commas (no quoted field lists). */
export const cacheControlPattern = /^[a-z-]+(=[0-9]{1,10})?(, ?[a-z-]+(=[0-9]{1,10})?)*$/;

/** Caching defaults of a rule's answers (seed practice 4: avoid redundant downloads). */
export const caching = withRules(
  z
    .object({
      cacheControl: patternString({
        pattern: cacheControlPattern,
        maxLength: 256,
        message: "must be Cache-Control directives such as 'private, max-age=300' or 'no-store': lowercase directives, some with '=' and a number, separated by commas",
        description: "Cache-Control for the rule's answers when the app sets none, e.g. `private, max-age=300` for a user's data or `public, max-age=86400` for public images.",
      }).optional(),
      vary: setList(httpHeaderName("A request header name."), {
        min: 1,
        max: 8,
        description: "Vary for the rule's answers when the app sets none: the request headers an answer depends on (Accept-Encoding with compression).",
      }).optional(),
      notModified: z
        .boolean()
        .optional()
        .describe(
          "Answer conditional requests at the sidecar: a GET or HEAD whose If-None-Match names the ETag of the app's 200 answer (weak comparison, RFC 9110 section 13.1.2; or *) gets 304 Not Modified without the body, so a mobile client does not download again what it holds. The app still computes its answer; the sidecar never makes up an ETag (an app that sends none is left alone).",
        ),
    })
    .strict(),
  "Caching defaults for the rule's answers, added only where the app's answer has no such header: the app stays the authority on its own caching.",
  [
    {
      cel: "has(self.cacheControl) || has(self.vary) || has(self.notModified)",
      message: "set cacheControl, vary, notModified or several",
      holds: (v) => v.cacheControl !== undefined || v.vary !== undefined || v.notModified !== undefined,
    },
  ],
);

export const ownership = z
  .object({
    pathParam: patternString({
      pattern: /^[A-Za-z_][A-Za-z0-9_]*$/,
      maxLength: 64,
      message: "must be the name of a variable of match.pathTemplate",
      description: "Variable of match.pathTemplate that names the owner of the object, e.g. userId.",
    }),
    claim: claimName("Claim of the verified token that must equal the path parameter, e.g. sub.").default("sub"),
  })
  .strict()
  .meta({
    description:
      "Object-level authorization (against BOLA): the request is allowed only when the path parameter equals the caller's claim. A refusal is 403 and never reveals whether the object exists.",
  });

export const rule = withRules(
  z
    .object({
      name: dnsLabel("Name of the rule, unique within the policy; used in generated names, metrics and refusal reasons."),
      match: requestMatch,
      authentication: z
        .enum(["Required", "Optional", "None", "APIKey"])
        .default("Required")
        .describe(
          "Required: a valid token is needed (401 otherwise). Optional: anonymous callers pass, but a token that is present must be valid. None: tokens are not checked. APIKey: for server-to-server partner routes only, a key of spec.authentication.apiKeys is needed (401 otherwise) and tokens are not checked; never for routes a mobile app calls, since a key in an app binary is extracted.",
        ),
      require: requirements.optional(),
      ownership: ownership.optional(),
      clientCIDRs: clientCIDRs.optional(),
      callers: callers.optional(),
      when: conditions.optional(),
      authorizationMode: z
        .enum(["Enforce", "Shadow"])
        .default("Enforce")
        .describe(
          "Enforce refuses what the rule's authorization refuses. Shadow (a dry run of an authorization change): require, when, callers and ownership are evaluated but a request they would refuse is let through; the backend receives x-bulwark-shadow-authorization, x-bulwark-shadow-callers or x-bulwark-shadow-ownership set to denied (or allowed), the sidecar logs a JSON line per shadow refusal and bulwark authz counts them. Authentication (an invalid token), client CIDRs, sender constraints, attestation, app versions, rate limits and default-deny stay enforced.",
        ),
      caching: caching.optional(),
      purpose: z
        .enum(["Login", "Payment"])
        .optional()
        .describe(
          "What the rule's routes are for, so the abuse signals know them (spec.abuseSignals): Login (credential stuffing counts failed logins here) or Payment (card testing counts declined payments here). It changes nothing in how requests are checked.",
        ),
      requireAppAttestation: z.boolean().default(false).describe("Require a valid app integrity token (spec.authentication.appAttestation) on this route."),
      maxRequestBytes: z.number().int().min(1).max(67_108_864).optional().describe("Largest request body accepted, in bytes (at most 64 MiB); 413 above it."),
      authzTimeoutMs: z
        .number()
        .int()
        .min(10)
        .max(10_000)
        .optional()
        .describe(
          "How long the sidecar waits for bulwark authz on this rule's requests, in milliseconds (10 to 10000), before it refuses them with 503 (it never lets them through). Unset: the controller's --authz-timeout-ms (250 by default). Only for rules bulwark authz checks (DPoP or certificate binding, token age, attestation, ownership, app versions).",
        ),
      rateLimits: z
        .array(rateLimit)
        .min(1)
        .max(4)
        .optional()
        .meta({ description: "Request budgets; a request is refused with 429 when any of them is spent.", "x-kubernetes-list-type": "atomic" }),
    })
    .strict(),
  "One rule; the first rule whose match fits the request applies.",
  [
    {
      cel: "!has(self.require) || self.authentication in ['Required', 'Optional']",
      message: "require needs authentication Required or Optional: scopes and claims come from a verified token",
      fieldPath: ".require",
      holds: (v) => v.require === undefined || v.authentication === "Required" || v.authentication === "Optional",
    },
    {
      cel: "!has(self.when) || !has(self.when.notClaims) || self.authentication in ['Required', 'Optional']",
      message: "when.notClaims needs authentication Required or Optional: claims come from a verified token",
      fieldPath: ".when.notClaims",
      holds: (v) => v.when?.notClaims === undefined || v.authentication === "Required" || v.authentication === "Optional",
    },
    {
      cel: "!has(self.caching) || !has(self.caching.cacheControl) || self.authentication == 'None' || !self.caching.cacheControl.matches('(^|[ ,])(public|s-maxage)')",
      message:
        "caching.cacheControl on a rule that authenticates may not say public or s-maxage: a shared cache would serve one user's answer to another (RFC 9111 section 3.5); use private",
      fieldPath: ".caching.cacheControl",
      holds: (v) => v.caching?.cacheControl === undefined || v.authentication === "None" || !/(^|[ ,])(public|s-maxage)/.test(v.caching.cacheControl),
    },
    {
      cel: "!has(self.authorizationMode) || self.authorizationMode != 'Shadow' || has(self.require) || has(self.when) || has(self.callers) || has(self.ownership)",
      message: "authorizationMode Shadow needs something to dry-run: require, when, callers or ownership",
      fieldPath: ".authorizationMode",
      holds: (v) => v.authorizationMode !== "Shadow" || v.require !== undefined || v.when !== undefined || v.callers !== undefined || v.ownership !== undefined,
    },
    {
      cel: "!has(self.ownership) || self.authentication == 'Required'",
      message: "ownership needs authentication Required: the owner is compared with a claim of a verified token",
      fieldPath: ".ownership",
      holds: (v) => v.ownership === undefined || v.authentication === "Required",
    },
    {
      cel: "!has(self.ownership) || (has(self.match.pathTemplate) && self.match.pathTemplate.contains('{' + self.ownership.pathParam + '}'))",
      message: "ownership.pathParam must name a {variable} of match.pathTemplate",
      fieldPath: ".ownership.pathParam",
      holds: (v) => v.ownership === undefined || (v.match.pathTemplate !== undefined && v.match.pathTemplate.includes(`{${v.ownership.pathParam}}`)),
    },
    {
      cel: "!has(self.rateLimits) || self.rateLimits.all(l, !has(l.key) || l.key.all(k, !k.startsWith('pathParam:') || (has(self.match.pathTemplate) && self.match.pathTemplate.contains('{' + k.substring(10) + '}'))))",
      message: "a rate-limit key pathParam:<name> must name a {variable} of match.pathTemplate",
      fieldPath: ".rateLimits",
      holds: (v) =>
        (v.rateLimits ?? []).every((l) =>
          (l.key ?? []).every((k) => !k.startsWith("pathParam:") || (v.match.pathTemplate !== undefined && v.match.pathTemplate.includes(`{${k.slice(10)}}`))),
        ),
    },
    {
      cel: "!has(self.rateLimits) || self.authentication in ['Required', 'Optional'] || self.rateLimits.all(l, !has(l.key) || l.key.all(k, !k.startsWith('claim:')))",
      message: "a rate-limit key claim:<name> needs authentication Required or Optional: claims come from a verified token",
      fieldPath: ".rateLimits",
      holds: (v) => v.authentication === "Required" || v.authentication === "Optional" || (v.rateLimits ?? []).every((l) => (l.key ?? []).every((k) => !k.startsWith("claim:"))),
    },
    {
      cel: "!has(self.rateLimits) || self.rateLimits.filter(l, l.scope == 'Local').size() <= 1",
      message: "a rule may have one Local rate limit: a sidecar keeps one token bucket per route; use a Global limit for a second budget",
      fieldPath: ".rateLimits",
      holds: (v) => (v.rateLimits ?? []).filter((l) => l.scope === "Local").length <= 1,
    },
    {
      cel: "!has(self.rateLimits) || self.rateLimits.all(l, self.rateLimits.exists_one(o, o.name == l.name))",
      message: "rate-limit names must be unique within a rule",
      fieldPath: ".rateLimits",
      holds: (v) => v.rateLimits === undefined || new Set(v.rateLimits.map((l) => l.name)).size === v.rateLimits.length,
    },
    {
      cel: "self.authentication != 'APIKey' || !self.requireAppAttestation",
      message: "authentication APIKey is for partner servers and requireAppAttestation for mobile apps: a route takes one kind of caller",
      fieldPath: ".requireAppAttestation",
      holds: (v) => v.authentication !== "APIKey" || !v.requireAppAttestation,
    },
  ],
);
