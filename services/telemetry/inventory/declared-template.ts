/**
 * Declared path templates — a policy rule's `pathTemplate` (`/v1/orders/{id}`, PathMatchIR) or an
 * OpenAPI path (`/pets/{petId}`, also `/files/{name}.json`) — and which one an observed path
 * falls under, so `/v1/orders/123` is counted as `/v1/orders/{id}`. Pure.
 */
import { pathSegments } from "./segment-shape.js";

type SegmentMatcher = { literal: string } | { pattern: RegExp };

export interface CompiledTemplate {
  /** As declared, normalised to no trailing slash: the key the inventory counts under. */
  template: string;
  segments: SegmentMatcher[];
  /** Literal segments: the more, the more specific. */
  literals: number;
}

const variable = /\{[^{}/]+\}/g;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^$()|[\]\\]/g, "\\$&");
}

function segmentMatcher(segment: string, caseSensitive: boolean): SegmentMatcher {
  if (!segment.includes("{")) return { literal: caseSensitive ? segment : segment.toLowerCase() };
  const parts = segment.split(variable).map(escapeRegExp);
  return { pattern: new RegExp(`^${parts.join("[^/]+")}$`, caseSensitive ? "" : "i") };
}

/** Compiles a declared template; `caseSensitive` as the policy's backendMatching says (default false). */
export function compileTemplate(template: string, caseSensitive = false): CompiledTemplate {
  const raw = template
    .split("?")[0]!
    .split("/")
    .filter((s) => s.length > 0);
  const segments = raw.map((s) => segmentMatcher(s, caseSensitive));
  return { template: `/${raw.join("/")}`, segments, literals: segments.filter((s) => "literal" in s).length };
}

/** Whether the path's segments (pathSegments) fall under the template. */
export function matchesTemplate(segments: readonly string[], compiled: CompiledTemplate, caseSensitive = false): boolean {
  if (segments.length !== compiled.segments.length) return false;
  return compiled.segments.every((m, i) => {
    const s = segments[i]!;
    if ("literal" in m) return m.literal === (caseSensitive ? s : s.toLowerCase());
    return m.pattern.test(s);
  });
}

/**
 * The declared template a path falls under: the most specific (most literal segments), the
 * first declared on a tie; undefined when none.
 */
export function findDeclared(path: string, declared: readonly CompiledTemplate[], caseSensitive = false): CompiledTemplate | undefined {
  const segments = pathSegments(path);
  let best: CompiledTemplate | undefined;
  for (const candidate of declared) {
    if ((best === undefined || candidate.literals > best.literals) && matchesTemplate(segments, candidate, caseSensitive)) best = candidate;
  }
  return best;
}
