import type { PathMeaningIR } from "../../contract/ir.js";

/**
 * How a path compares under the backend's matching (the policy's `backendMatching`), shared by
 * the Envoy routes, bulwark authz's ownership check and bulwark ratelimit's path keys, so the
 * three never disagree about which rule a request falls under.
 */

/** Exact comparison: what a route without `meaning` does. */
export const EXACT_PATHS: PathMeaningIR = { caseSensitive: true, trailingSlash: "Strict" };

/** The path without query or fragment, and without one trailing slash where the backend ignores it. */
export function comparablePath(path: string, meaning: PathMeaningIR = EXACT_PATHS): string {
  const q = path.search(/[?#]/);
  const bare = q === -1 ? path : path.slice(0, q);
  return meaning.trailingSlash === "Ignore" && bare.length > 1 && bare.endsWith("/") ? bare.slice(0, -1) : bare;
}

/** `text` as a literal in a regular expression (the subset RE2 and JavaScript share). */
export function regexLiteral(text: string): string {
  return text.replace(/[\\^$.|?*+()[\]{}]/g, (c) => `\\${c}`);
}

/** A path with its trailing slash made optional where the backend ignores it ("/" stays "/"). */
function withOptionalSlash(source: string, path: string, meaning: PathMeaningIR): string {
  if (meaning.trailingSlash !== "Ignore" || path === "/") return source;
  return `${path.endsWith("/") ? source.slice(0, -1) : source}/?`;
}

/**
 * An Envoy URI template (`/v1/users/{userId}/orders`, `{name=*}`, `{name=**}`, `*`, `**`) as the
 * source of an anchored regular expression with one group per variable, in the subset RE2 and
 * JavaScript share; `variables` names the groups in order. Case is the caller's flag.
 */
export function templateRegex(template: string, meaning: PathMeaningIR = EXACT_PATHS): { source: string; variables: string[] } {
  const variables: string[] = [];
  let source = "";
  const token = /\{([A-Za-z_][A-Za-z0-9_]*)(?:=([^}]*))?\}|\*\*|\*|[^{*]+/g;
  for (const m of template.matchAll(token)) {
    if (m[1] !== undefined) {
      variables.push(m[1]);
      source += m[2] === "**" ? "(.*)" : "([^/]+)";
    } else if (m[0] === "**") source += ".*";
    else if (m[0] === "*") source += "[^/]+";
    else source += regexLiteral(m[0]);
  }
  return { source: `^${withOptionalSlash(source, template, meaning)}$`, variables };
}

/** An exact path as an anchored regular expression source (for matching that ignores a trailing slash). */
export function exactPathRegex(path: string, meaning: PathMeaningIR): string {
  return `^${withOptionalSlash(regexLiteral(path), path, meaning)}$`;
}

/** A prefix that ends in `/` as a regular expression source that also accepts the prefix without it. */
export function directoryPrefixRegex(prefix: string): string {
  return `^${regexLiteral(prefix.slice(0, -1))}(/.*)?$`;
}
