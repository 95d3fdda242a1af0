import { z } from "zod";
import { appVersion, calendarDate, httpHeaderName, httpsOrHttpUrl } from "./common.js";
import { pathPattern, unnormalisedMessage, unnormalisedPrefix } from "./rule.js";
import { patternString, setList, withRules } from "./validation.js";

const platformName = /^[a-z][a-z0-9-]{0,31}$/;

export const minAppVersion = z
  .object({
    header: httpHeaderName("Request header with the app's version (MAJOR.MINOR.PATCH).").default("X-App-Version"),
    platformHeader: httpHeaderName("Request header naming the platform, matched case-insensitively against the keys of platforms.").default("X-App-Platform"),
    minimum: appVersion("Oldest app version allowed, for platforms without their own entry."),
    platforms: withRules(
      z.record(z.string().max(32), appVersion("Oldest version allowed on this platform.")),
      { description: "Per-platform minimums, e.g. {ios: 4.3.0, android: 4.2.1}; keys are lowercase platform names.", maxProperties: 8 },
      [
        {
          cel: `self.all(k, k.matches(r"${platformName.source}"))`,
          message: "platform names must be lowercase: a letter, then letters, digits or '-', at most 32 characters",
          holds: (v) => Object.keys(v).every((k) => platformName.test(k)),
        },
        { message: "at most 8 platforms", holds: (v) => Object.keys(v).length <= 8 },
      ],
    ).optional(),
  })
  .strict()
  .meta({
    description:
      "Refuse outdated app builds with 426 Upgrade Required and a JSON body telling the app to update. A request without a valid version header is refused the same way.",
  });

export const compression = z
  .object({
    algorithms: setList(z.enum(["brotli", "gzip"]).describe("A content coding: brotli (br) or gzip."), {
      min: 1,
      max: 2,
      description: "Response encodings offered, in order of preference, to clients that accept them.",
    }).default(["brotli", "gzip"]),
    minBytes: z.number().int().min(0).max(10_485_760).default(1024).describe("Responses smaller than this are sent uncompressed."),
  })
  .strict()
  .meta({ description: "Compress responses for clients on slow or metered mobile networks." });

export const deprecation = withRules(
  z
    .object({
      pathPrefix: patternString({
        pattern: pathPattern,
        maxLength: 256,
        message: "must be an absolute URL path prefix such as /v1/",
        description: "Requests below this prefix are deprecated.",
      }),
      deprecatedAt: calendarDate("Date the API became (or becomes) deprecated, YYYY-MM-DD; announced in the Deprecation header (RFC 9745)."),
      sunsetAt: calendarDate("Date after which requests get 410 Gone, YYYY-MM-DD (UTC midnight); announced before in the Sunset header (RFC 8594)."),
      link: httpsOrHttpUrl("Where developers read about the migration; sent as a Link header with rel=deprecation.").optional(),
    })
    .strict(),
  "A deprecation timeline for part of the API.",
  [
    {
      cel: `!self.pathPrefix.matches(r"${unnormalisedPrefix.source}")`,
      message: `pathPrefix ${unnormalisedMessage}`,
      fieldPath: ".pathPrefix",
      holds: (v) => !unnormalisedPrefix.test(v.pathPrefix),
    },
    {
      cel: "self.sunsetAt > self.deprecatedAt",
      message: "sunsetAt must be after deprecatedAt",
      fieldPath: ".sunsetAt",
      holds: (v) => v.sunsetAt > v.deprecatedAt,
    },
  ],
);

export const mobile = z
  .object({
    minAppVersion: minAppVersion.optional(),
    compression: compression.optional(),
    deprecations: withRules(z.array(deprecation).min(1).max(16), { description: "Deprecation and sunset timelines.", "x-kubernetes-list-type": "atomic" }, [
      {
        cel: "self.all(d, self.exists_one(o, o.pathPrefix == d.pathPrefix))",
        message: "each pathPrefix may have one deprecation timeline only",
        holds: (v) => new Set(v.map((d) => d.pathPrefix)).size === v.length,
      },
    ]).optional(),
  })
  .strict()
  .meta({ description: "Practices specific to mobile clients: minimum app versions, compression, deprecation timelines." });
