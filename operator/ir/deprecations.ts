import type { PolicySpec } from "../api/v1alpha1/policy.js";
import type { PathMatchIR } from "../../contract/ir.js";

type DeprecationSpec = NonNullable<NonNullable<PolicySpec["mobile"]>["deprecations"]>[number];

export interface DeprecationWindow {
  index: number;
  pathPrefix: string;
  /** The window is over: requests under the prefix get 410 Gone. */
  sunset: boolean;
  headers: { name: string; value: string }[];
  link?: string;
  sunsetHttpDate: string;
}

function midnightUtc(date: string): Date {
  return new Date(`${date}T00:00:00Z`);
}

/**
 * Deprecation windows as of `now`, most specific prefix first. Headers: Deprecation
 * (RFC 9745, `@<epoch seconds>`), Sunset (RFC 8594, an HTTP-date) and Link rel=deprecation.
 */
export function deprecationWindows(deprecations: readonly DeprecationSpec[] | undefined, now: string): DeprecationWindow[] {
  if (!deprecations?.length) return [];
  const instant = new Date(now).getTime();
  return deprecations
    .map((d, index) => {
      const sunsetAt = midnightUtc(d.sunsetAt);
      const headers = [
        { name: "deprecation", value: `@${Math.floor(midnightUtc(d.deprecatedAt).getTime() / 1000)}` },
        { name: "sunset", value: sunsetAt.toUTCString() },
        ...(d.link ? [{ name: "link", value: `<${d.link}>; rel="deprecation"; type="text/html"` }] : []),
      ];
      return { index, pathPrefix: d.pathPrefix, sunset: instant >= sunsetAt.getTime(), headers, ...(d.link ? { link: d.link } : {}), sunsetHttpDate: sunsetAt.toUTCString() };
    })
    .sort((a, b) => b.pathPrefix.length - a.pathPrefix.length || a.index - b.index);
}

/** The earliest sunset still ahead of `now`: when the translation must run again. */
export function nextSunset(deprecations: readonly DeprecationSpec[] | undefined, now: string): string | undefined {
  if (!deprecations?.length) return undefined;
  const instant = new Date(now).getTime();
  const ahead = deprecations.map((d) => midnightUtc(d.sunsetAt)).filter((t) => t.getTime() > instant);
  ahead.sort((a, b) => a.getTime() - b.getTime());
  return ahead[0]?.toISOString();
}

/** The literal beginning every path the match accepts starts with. */
function literalPrefix(path: PathMatchIR): string {
  switch (path.kind) {
    case "exact":
      return path.path;
    case "prefix":
      return path.prefix;
    case "template":
      return path.template.slice(0, path.template.indexOf("{") === -1 ? undefined : path.template.indexOf("{"));
  }
}

/** Every request the match accepts falls under `prefix`. */
export function coveredBy(path: PathMatchIR, prefix: string): boolean {
  return literalPrefix(path).startsWith(prefix);
}

/** Some, but not necessarily all, requests the match accepts fall under `prefix`. */
export function overlapsPartly(path: PathMatchIR, prefix: string): boolean {
  if (path.kind === "exact") return false;
  const literal = literalPrefix(path);
  return !literal.startsWith(prefix) && prefix.startsWith(literal);
}
