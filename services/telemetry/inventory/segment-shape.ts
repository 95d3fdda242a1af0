/**
 * Whether one path segment looks like an identifier (a value that varies per object or per
 * caller) rather than a name the API chose. Pure; no state. What the shapes miss, the learner's
 * cardinality rule catches (path-learner.ts).
 */

/** The placeholder a learned template puts where identifiers were. */
export const PARAM = "{param}";

const numeric = /^[-+]?\d+([.,]\d+)?$/;
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const hexWithDigit = /^(?=.*\d)[0-9a-f]{8,}$/i;
const longHex = /^[0-9a-f]{16,}$/i;
const email = /^[^@/\s]+@[^@/\s]+\.[^@/\s]+$/;
const date = /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/i;
const phone = /^\+?\d[\d\s().-]{6,}$/;
const ipv4 = /^\d{1,3}(\.\d{1,3}){3}$/;
const opaqueAlphabet = /^[A-Za-z0-9_\-~.=]+$/;
/** A slug of lower-case words: what an API names a collection or an action. */
const slug = /^[a-z]+([-_.][a-z]+)*$/;
const slugWithDigits = /^[a-z0-9]+([-_.][a-z0-9]+)*$/;

/** Segments longer than this are never names: a template keeps none of them. */
export const MAX_LITERAL_SEGMENT = 48;

function count(s: string, re: RegExp): number {
  return s.match(re)?.length ?? 0;
}

/**
 * An opaque token (base64url, ULID, mixed alphanumerics): long enough, letters and digits
 * mixed, or upper and lower case interleaved the way random bytes are and camelCase is not.
 */
function looksRandom(segment: string): boolean {
  if (!opaqueAlphabet.test(segment) || slug.test(segment)) return false;
  const digits = count(segment, /\d/g);
  const letters = count(segment, /[A-Za-z]/g);
  if (segment.length >= 8 && digits >= 3 && letters >= 2) return true;
  if (segment.length < 20 || letters === 0) return false;
  if (digits >= 1) return !slugWithDigits.test(segment);
  // Split before each capital: camelCase yields words, random bytes yield mostly one- and two-letter pieces.
  const pieces = segment.split(/(?=[A-Z])|[-_~=.]/).filter((p) => p.length > 0);
  return pieces.length >= 4 && pieces.filter((p) => p.length <= 2).length / pieces.length >= 0.4;
}

/** True when the segment is an identifier by its shape alone. */
export function looksLikeId(segment: string): boolean {
  if (segment.length === 0 || segment === PARAM) return false;
  if (segment.length > MAX_LITERAL_SEGMENT) return true;
  return (
    numeric.test(segment) ||
    uuid.test(segment) ||
    hexWithDigit.test(segment) ||
    longHex.test(segment) ||
    email.test(segment) ||
    date.test(segment) ||
    phone.test(segment) ||
    ipv4.test(segment) ||
    looksRandom(segment)
  );
}

/** The most segments a template keeps; deeper paths end in one `{param}` for the rest. */
export const MAX_SEGMENTS = 16;

/**
 * The path's segments, normalised as the inventory compares them: no query, no empty segments
 * (`//` and a trailing slash), at most MAX_SEGMENTS (the rest folds into one `{param}`),
 * percent-decoded where that is valid so `%7B` cannot forge a `{param}`.
 */
export function pathSegments(path: string): string[] {
  const bare = path.split("?")[0] ?? "";
  const segments = bare.split("/").filter((s) => s.length > 0);
  if (segments.length <= MAX_SEGMENTS) return segments.map(literal);
  return [...segments.slice(0, MAX_SEGMENTS - 1).map(literal), PARAM];
}

/** What a literal never holds: placeholders, separators, escapes (a template reads back as itself), blanks. */
const unsafeInLiteral = /[{}/?#%\s\p{Cc}]/u;

/** A segment as a template keeps it: braces never appear in a learned literal. */
function literal(segment: string): string {
  let decoded = segment;
  try {
    decoded = decodeURIComponent(segment);
  } catch {
    // Not valid percent-encoding: keep it as sent.
  }
  return unsafeInLiteral.test(decoded) ? PARAM : decoded;
}

/** The template of one path by segment shape alone: `/v1/orders/123` → `/v1/orders/{param}`. */
export function shapeTemplate(path: string): string {
  return joinSegments(pathSegments(path).map((s) => (looksLikeId(s) ? PARAM : s)));
}

export function joinSegments(segments: readonly string[]): string {
  return `/${segments.join("/")}`;
}
