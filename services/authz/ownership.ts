import { comparablePath, EXACT_PATHS } from "../../operator/ir/path-meaning.js";
import type { PathMeaningIR } from "../../contract/ir.js";
import { refuse, type Decision } from "./decision.js";

export interface OwnershipRule {
  pathParam: string;
  claim: string;
  template: string;
  meaning?: PathMeaningIR;
}

type Segment = { literal: string } | { variable: string };

const compiled = new Map<string, Segment[]>();

function compile(template: string): Segment[] {
  let segments = compiled.get(template);
  if (!segments) {
    segments = template
      .split("/")
      .slice(1)
      .map((s) => {
        const m = /^\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(s);
        return m?.[1] ? { variable: m[1] } : { literal: s };
      });
    compiled.set(template, segments);
  }
  return segments;
}

/**
 * The variables of a path template (whole-segment `{var}`) in a request path (query dropped),
 * percent-decoded; undefined when the path does not match the template or a value cannot be
 * decoded. Paths compare as the backend does (`meaning`: case of literals, a trailing slash), the
 * same way the route that sent the request here matched it.
 */
export function matchTemplate(template: string, path: string, meaning: PathMeaningIR = EXACT_PATHS): Record<string, string> | undefined {
  const parts = comparablePath(path, meaning).split("/");
  if (parts[0] !== "") return undefined;
  const segments = compile(comparablePath(template, meaning));
  if (parts.length - 1 !== segments.length) return undefined;
  const values: Record<string, string> = {};
  for (const [i, segment] of segments.entries()) {
    const part = parts[i + 1] ?? "";
    if ("literal" in segment) {
      if (part !== segment.literal && (meaning.caseSensitive || part.toLowerCase() !== segment.literal.toLowerCase())) return undefined;
      continue;
    }
    if (part === "") return undefined;
    try {
      values[segment.variable] = decodeURIComponent(part);
    } catch {
      return undefined;
    }
  }
  return values;
}

function claimValue(payload: Readonly<Record<string, unknown>> | undefined, claim: string): string | undefined {
  const v = payload?.[claim];
  if (typeof v === "string" && v !== "") return v;
  if (typeof v === "number" && Number.isSafeInteger(v)) return String(v);
  return undefined;
}

/**
 * Object-level authorization (BOLA): the owner named by the path must be the caller named by the
 * verified token. Every refusal is the same 403 body, so the caller learns nothing about whether
 * the object exists.
 */
export function checkOwnership(path: string, payload: Readonly<Record<string, unknown>> | undefined, rule: OwnershipRule): Decision | undefined {
  const body = { error: "forbidden" };
  const caller = claimValue(payload, rule.claim);
  if (caller === undefined) return refuse(403, "ownership_claim_missing", { body });
  const owner = matchTemplate(rule.template, path, rule.meaning)?.[rule.pathParam];
  return owner === caller ? undefined : refuse(403, "ownership_mismatch", { body });
}
