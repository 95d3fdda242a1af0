/**
 * Text a sidecar sends (a NACK's error_detail, its node id) is untrusted: it lands in policy
 * status, Events, logs and the per-replica report Lease. Bound it and make it plain text before
 * it goes anywhere.
 */

/** Longest NACK message kept (Envoy's own errors are far shorter; the rest is cut with "…"). */
export const MAX_SIDECAR_ERROR_LENGTH = 512;

/**
 * Longest node id accepted: `<pod>.<namespace>`, a pod name (a DNS subdomain, at most 253
 * characters) and a namespace (a DNS label, at most 63).
 */
export const MAX_NODE_ID_LENGTH = 253 + 1 + 63;

const NODE_ID = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/;

/** Why a node id is not one Bulwark serves, or undefined when it is well formed. */
export function nodeIdProblem(id: string): string | undefined {
  if (id.length > MAX_NODE_ID_LENGTH) return `node.id is ${id.length} characters long; at most ${MAX_NODE_ID_LENGTH} (<pod>.<namespace>)`;
  if (!NODE_ID.test(id) || !id.includes(".")) return "node.id is not <pod>.<namespace> (lowercase letters, digits, '-' and '.')";
  return undefined;
}

// C0 and C1 controls, DEL, and the format characters that reorder or hide text (bidi overrides,
// zero-width characters, the BOM).
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]+/gu;

/**
 * `text` as one bounded line of plain text: controls become spaces, runs of spaces collapse,
 * the markup characters `<`, `>` and `&` are replaced by look-alikes that no renderer reads as
 * markup, and the result is cut at `max` characters (whole code points) with "…".
 */
export function plainSidecarText(text: string, max = MAX_SIDECAR_ERROR_LENGTH): string {
  const flat = text.replace(UNPRINTABLE, " ").replace(/</g, "‹").replace(/>/g, "›").replace(/&/g, "＆").replace(/\s+/g, " ").trim();
  const chars = [...flat];
  return chars.length <= max ? flat : `${chars.slice(0, Math.max(0, max - 1)).join("")}…`;
}
