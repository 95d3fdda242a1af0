import { z } from "zod";
import { boundedDuration, httpHeaderName } from "./common.js";
import { httpMethods } from "./rule.js";
import { patternString, setList, withRules } from "./validation.js";

/**
 * A browser origin: `scheme://host[:port]`, lowercase, no path; `*.` before the host allows any
 * one label in its place (`https://*.example.com` allows `https://app.example.com`, not
 * `https://example.com` nor `https://a.b.example.com`).
 */
/** The longest wildcard origin: Envoy matches it with a regular expression, which RE2 refuses beyond 100 instructions (about one per character). */
export const maxWildcardOriginLength = 90;

export const corsOriginPattern = /^https?:\/\/(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*(:[0-9]{1,5})?$/;

const origin = patternString({
  pattern: corsOriginPattern,
  maxLength: 253,
  message:
    "must be an origin such as https://app.example.com or https://*.example.com: http or https, a lowercase host (a leading '*.' stands for one label), an optional port, and no path, query or trailing slash; the 'null' origin and '*' are not accepted",
  description: "An origin (RFC 6454) allowed to call the API from a browser.",
});

/**
 * Cross-origin requests from web clients that share a mobile backend (CORS, Fetch standard):
 * the sidecar answers preflights itself, before any token is checked, and adds the CORS response
 * headers for the listed origins. It never widens access: every request still passes the rules,
 * and a browser still sends the token.
 */
export const cors = withRules(
  z
    .object({
      allowOrigins: setList(origin, { min: 1, max: 32, description: "Origins allowed to call the API from a browser (exact, or with one leading wildcard label)." }),
      allowMethods: setList(z.enum(httpMethods).describe("An HTTP method."), {
        min: 1,
        max: httpMethods.length,
        description: "Methods a cross-origin request may use (Access-Control-Allow-Methods).",
      }),
      allowHeaders: setList(httpHeaderName("A request header name."), {
        max: 32,
        description:
          "Request headers a cross-origin request may send, besides the CORS-safelisted ones (Access-Control-Allow-Headers); a DPoP client needs authorization and dpop.",
      }).optional(),
      exposeHeaders: setList(httpHeaderName("A response header name."), {
        max: 32,
        description: "Response headers the browser lets the page read, besides the safelisted ones (Access-Control-Expose-Headers).",
      }).optional(),
      maxAge: boundedDuration({
        description: "How long a browser may cache a preflight answer (Access-Control-Max-Age), between 1s and 24h; browsers cap it lower (Chromium at 2h).",
        min: "1s",
        max: "24h",
      }).optional(),
      allowCredentials: z
        .boolean()
        .default(false)
        .describe(
          "Whether the browser may send cookies and HTTP authentication with cross-origin requests (Access-Control-Allow-Credentials). Tokens sent in the Authorization header do not need it.",
        ),
    })
    .strict(),
  "CORS for web clients: which origins may call the API from a browser. The sidecar answers preflights (OPTIONS with Access-Control-Request-Method) from a listed origin itself, so they never reach the app or a token check; a preflight from any other origin is answered without CORS headers, so the browser refuses it. Other requests pass the rules as usual.",
  [
    {
      cel: `self.allowOrigins.all(o, !o.contains('*') || size(o) <= ${maxWildcardOriginLength})`,
      message: `an origin with a wildcard may have at most ${maxWildcardOriginLength} characters (Envoy matches it with a regular expression of bounded size); list longer origins exactly`,
      fieldPath: ".allowOrigins",
      holds: (v) => v.allowOrigins.every((o) => !o.includes("*") || o.length <= maxWildcardOriginLength),
    },
    {
      cel: "!self.allowCredentials || self.allowOrigins.all(o, !o.contains('*'))",
      message: "allowCredentials needs exact origins: a wildcard origin with credentials lets any page of those hosts act as the user",
      fieldPath: ".allowOrigins",
      holds: (v) => !v.allowCredentials || v.allowOrigins.every((o) => !o.includes("*")),
    },
  ],
);

export type Cors = z.output<typeof cors>;
