import { z } from "zod";

/**
 * A cross-field rule stated once and enforced twice: as a CEL `x-kubernetes-validations`
 * entry by the API server at `kubectl apply` time, and as a zod refinement when the operator
 * or `bulwark render` reads an object, so nothing unvalidated reaches translation.
 * The CEL expression and the TypeScript predicate must mean the same; the bad-manifest table
 * runs every case through both.
 */
export interface CrossFieldRule<T> {
  /**
   * CEL expression over `self` (the object the rule is attached to). Absent only when an
   * OpenAPI keyword in the same schema's metadata (such as maxProperties) makes the API
   * server enforce the same thing, or when `operatorOnly` says why the server cannot.
   */
  cel?: string;
  /**
   * Why the API server cannot check this rule (e.g. its CEL cost exceeds the budget); the
   * operator then reports a violation as Accepted=False with reason Invalid.
   */
  operatorOnly?: string;
  /** What is wrong and what is allowed, shown by kubectl and in status. */
  message: string;
  /** Relative path of the field to blame, e.g. `.sunsetAt` (the object itself when absent). */
  fieldPath?: string;
  /** Same meaning as `cel`, over the parsed value (defaults applied). */
  holds: (value: T) => boolean;
}

interface CelValidation {
  rule: string;
  message: string;
  fieldPath?: string;
}

function zodPath(fieldPath: string | undefined): (string | number)[] {
  if (!fieldPath) return [];
  return fieldPath
    .split(/[.[\]]/)
    .filter((part) => part !== "")
    .map((part) => (/^\d+$/.test(part) ? Number(part) : part.replace(/^'|'$/g, "")));
}

/** Schema metadata: a description, and OpenAPI extensions such as x-kubernetes-list-type. */
export type SchemaMeta = string | ({ description: string } & Record<string, unknown>);

/** Attaches `rules` to `schema` for both the API server (CEL) and zod, with its metadata. */
export function withRules<S extends z.ZodType>(schema: S, meta: SchemaMeta, rules: readonly CrossFieldRule<z.output<S>>[]): S {
  const validations: CelValidation[] = rules.flatMap((r) => (r.cel === undefined ? [] : [{ rule: r.cel, message: r.message, ...(r.fieldPath ? { fieldPath: r.fieldPath } : {}) }]));
  const refined = schema.superRefine((value, ctx) => {
    for (const rule of rules) {
      if (!rule.holds(value)) ctx.addIssue({ code: "custom", message: rule.message, path: zodPath(rule.fieldPath) });
    }
  });
  const base = typeof meta === "string" ? { description: meta } : meta;
  return refined.meta({ ...base, ...(validations.length > 0 ? { "x-kubernetes-validations": validations } : {}) });
}

/**
 * A string constrained by a regular expression (RE2- and ECMAScript-compatible), rejected by
 * the API server with `message` rather than with the bare pattern.
 */
export function patternString(options: { pattern: RegExp; message: string; maxLength: number; description: string }): z.ZodString {
  const source = options.pattern.source;
  if (source.includes('"')) throw new Error(`pattern ${source} cannot contain a double quote`);
  if (options.pattern.flags !== "") throw new Error(`pattern ${source} cannot have flags: CEL's matches() has none`);
  // RE2's \s is ASCII whitespace, JavaScript's includes Unicode spaces such as U+00A0: they would disagree.
  if (/\\[sS]/.test(source)) throw new Error(`pattern ${source} cannot use \\s or \\S: RE2 and JavaScript disagree on them; spell the class out`);
  return (
    z
      .string()
      .max(options.maxLength)
      // A refinement rather than .regex(): the API server checks the CEL rule below, whose message says what is allowed.
      .refine((value) => options.pattern.test(value), { message: options.message })
      .meta({
        description: options.description,
        "x-kubernetes-validations": [{ rule: `self.matches(r"${source}")`, message: options.message }],
      })
  );
}

/**
 * A list the API server treats as a set (`x-kubernetes-list-type: set`, which refuses a value
 * listed twice); zod refuses duplicates too, with no CEL rule since the list type enforces it.
 */
export function setList<S extends z.ZodType>(item: S, options: { min?: number; max: number; description: string }): z.ZodArray<S> {
  const list = z.array(item).max(options.max);
  return withRules(options.min === undefined ? list : list.min(options.min), { description: options.description, "x-kubernetes-list-type": "set" }, [
    { message: "must not list a value twice", holds: (values) => new Set(values).size === values.length },
  ]);
}
