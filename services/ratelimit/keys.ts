import { createHash } from "node:crypto";
import { EXACT_PATHS, templateRegex } from "../../operator/ir/path-meaning.js";
import type { GlobalRateLimitIR, PathMeaningIR, RateLimitKeyPartIR } from "../../contract/ir.js";
import { descriptorKey } from "../../contract/wire.js";

const templates = new Map<string, { regex: RegExp; variables: string[] }>();

/**
 * An Envoy URI template (`/v1/users/{userId}/orders`, `{name=*}`, `{name=**}`, `*`, `**`) as a
 * regular expression with one group per variable, comparing paths as the policy's backend does
 * (case, trailing slash): the same meaning as the route that matched.
 */
export function compileTemplate(template: string, meaning: PathMeaningIR = EXACT_PATHS): { regex: RegExp; variables: string[] } {
  const cacheKey = `${meaning.caseSensitive ? "c" : "i"}${meaning.trailingSlash === "Ignore" ? "/" : ""} ${template}`;
  const cached = templates.get(cacheKey);
  if (cached) return cached;
  const { source, variables } = templateRegex(template, meaning);
  const compiled = { regex: new RegExp(source, meaning.caseSensitive ? "" : "i"), variables };
  templates.set(cacheKey, compiled);
  return compiled;
}

/** The value of `param` in `path` (query string ignored); "" when the path does not match. */
export function pathParam(path: string, template: string, param: string, meaning?: PathMeaningIR): string {
  const bare = path.split(/[?#]/, 1)[0] ?? "";
  const { regex, variables } = compileTemplate(template, meaning);
  const m = regex.exec(bare);
  const i = variables.indexOf(param);
  return m && i >= 0 ? (m[i + 1] ?? "") : "";
}

const descriptorKeys = new WeakMap<GlobalRateLimitIR, readonly string[]>();

/** The descriptor entry keys of a limit's key parts, in key order (computed once per limit). */
function descriptorKeysOf(limit: GlobalRateLimitIR): readonly string[] {
  let keys = descriptorKeys.get(limit);
  if (!keys) {
    keys = limit.key.map(descriptorKey);
    descriptorKeys.set(limit, keys);
  }
  return keys;
}

/** Descriptor entries as Envoy sends them, or as a map by entry key. */
export type DescriptorEntries = ReadonlyMap<string, string> | readonly { key: string; value: string }[];

/** The value of the entry `key`; the first one when several have it. */
export function entryValue(entries: DescriptorEntries, key: string): string | undefined {
  if (!Array.isArray(entries)) return (entries as ReadonlyMap<string, string>).get(key);
  for (const e of entries as readonly { key: string; value: string }[]) if (e.key === key) return e.value;
  return undefined;
}

/**
 * The values of a limit's key parts from what Envoy sent, in key order. A part Envoy left out
 * (header or claim absent) counts under "", as the API documents.
 */
export function keyValues(limit: GlobalRateLimitIR, entries: DescriptorEntries): string[] {
  const keys = descriptorKeysOf(limit);
  const values = new Array<string>(keys.length);
  for (let i = 0; i < keys.length; i++) {
    const part = limit.key[i] as RateLimitKeyPartIR;
    const raw = entryValue(entries, keys[i] as string) ?? "";
    values[i] = part.kind === "pathParam" ? pathParam(raw, part.template, part.param, part.meaning) : raw;
  }
  return values;
}

/** Budget keys computed lately, by limit and then key values; all dropped when too many (a bound on memory, not an LRU). */
let budgetKeys = new WeakMap<GlobalRateLimitIR, Map<string, string>>();
let cachedBudgetKeys = 0;
const BUDGET_KEY_CACHE = 50_000;
const MAX_CACHED_IDENTITY = 512;

/**
 * The counter key of one budget. The hash tag `{…}` holds the whole identity (limit, window,
 * key values), so both window counters of a budget land in the same Redis Cluster slot and one
 * script can touch them; budgets spread evenly over slots. Cached by limit object and key values,
 * so a call does not build and hash the long identity string again.
 */
export function budgetKey(limit: GlobalRateLimitIR, values: readonly string[]): string {
  const of = values.length === 1 ? (values[0] as string) : values.join("\u0000");
  let byValues = budgetKeys.get(limit);
  const cached = byValues?.get(of);
  if (cached !== undefined) return cached;
  let identity = `${limit.name}\u0000${limit.windowSeconds}`;
  for (const v of values) identity += `\u0000${v}`;
  const key = `bulwark:rl:{${createHash("sha256").update(identity).digest("base64url").slice(0, 22)}}`;
  // Key values come from requests (headers up to Envoy's 60 KiB): only short identities are kept,
  // so the cache stays a few MB whatever clients send.
  if (identity.length > MAX_CACHED_IDENTITY) return key;
  if (cachedBudgetKeys >= BUDGET_KEY_CACHE) {
    budgetKeys = new WeakMap();
    cachedBudgetKeys = 0;
    byValues = undefined;
  }
  if (byValues === undefined) {
    byValues = new Map();
    budgetKeys.set(limit, byValues);
  }
  byValues.set(of, key);
  cachedBudgetKeys++;
  return key;
}
