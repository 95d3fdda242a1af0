import { z } from "zod";
import { group, kind, policySpec, version } from "./v1alpha1/policy.js";
import { policyStatus } from "./v1alpha1/status.js";

type JsonSchema = Record<string, unknown>;

/** A CEL rule that is only a regular expression over the string: `self.matches(r"…")`. */
const matchesRule = /^self\.matches\(r"([^"]*)"\)$/;

/**
 * Rewrites zod's draft-07 output for a plain JSON Schema validator: the Kubernetes extensions
 * go (a validator would ignore them); a list the API server treats as a set
 * (`x-kubernetes-list-type: set`) says so with `uniqueItems`; a CEL rule that only matches a
 * regular expression becomes `pattern` (patternString keeps them RE2- and ECMAScript-compatible,
 * and both CEL's matches() and `pattern` search unanchored). The other CEL rules relate fields
 * to each other: they stay with the API server and the operator.
 */
function forValidators(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(forValidators);
  if (node === null || typeof node !== "object") return node;
  const schema = node as JsonSchema;
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key.startsWith("x-kubernetes-") || key === "$schema") continue;
    // Keys of `properties` are field names, never keywords: recurse into each value only.
    out[key] = key === "properties" ? Object.fromEntries(Object.entries(value as JsonSchema).map(([name, child]) => [name, forValidators(child)])) : forValidators(value);
  }
  if (schema["x-kubernetes-list-type"] === "set" || keyedByWholeItem(schema)) out.uniqueItems = true;
  const rules = (schema["x-kubernetes-validations"] ?? []) as { rule: string }[];
  const patterns = rules.flatMap((r) => matchesRule.exec(r.rule)?.[1] ?? []);
  if (patterns.length === 1 && out.pattern === undefined) out.pattern = patterns[0];
  else if (patterns.length > 0) out.allOf = [...((out.allOf as unknown[] | undefined) ?? []), ...patterns.map((pattern) => ({ pattern }))];
  return out;
}

/** A list-type map whose keys are every field of its items: two equal keys are two equal items. */
function keyedByWholeItem(schema: JsonSchema): boolean {
  if (schema["x-kubernetes-list-type"] !== "map") return false;
  const keys = (schema["x-kubernetes-list-map-keys"] ?? []) as string[];
  const fields = Object.keys((schema.items as JsonSchema | undefined)?.properties ?? {});
  return fields.length > 0 && fields.every((f) => keys.includes(f));
}

/** The CEL rules of the CRD that the JSON Schema cannot state (they relate fields), by message. */
export function rulesBeyondJsonSchema(crdSchema: unknown): string[] {
  const out: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node !== null && typeof node === "object") {
      for (const [key, value] of Object.entries(node as JsonSchema)) {
        if (key === "x-kubernetes-validations") out.push(...(value as { rule: string; message: string }[]).filter((r) => !matchesRule.test(r.rule)).map((r) => r.message));
        else walk(value);
      }
    }
  };
  walk(crdSchema);
  return [...new Set(out)].sort();
}

export function draft7(schema: z.ZodType): unknown {
  return forValidators(z.toJSONSchema(schema, { target: "draft-7", io: "input", unrepresentable: "throw" }));
}

/**
 * The JSON Schema of an APISecurityPolicy manifest, from the same zod source as the CRD, for
 * kubeconform and editors. Unlike the CRD's structural schema it refuses unknown fields
 * (`additionalProperties: false`), as the API server's field validation does at `kubectl apply`.
 */
export function apiSecurityPolicyJsonSchema(): JsonSchema {
  return {
    $schema: "http://json-schema.org/draft-07/schema#",
    title: `${kind} (${group}/${version})`,
    description:
      "Generated from operator/api/v1alpha1 by `npm run generate`; do not edit. Rules the CRD states in CEL (x-kubernetes-validations) are not here: the API server checks them at apply time.",
    type: "object",
    required: ["apiVersion", "kind", "metadata", "spec"],
    additionalProperties: false,
    properties: {
      apiVersion: { type: "string", enum: [`${group}/${version}`] },
      kind: { type: "string", enum: [kind] },
      metadata: { type: "object" },
      spec: draft7(policySpec),
      status: draft7(policyStatus),
    },
  };
}

/**
 * Where kubeconform finds it with `-schema-location 'schemas/{{ .ResourceKind }}{{ .KindSuffix }}.json'`
 * (its own layout: the lower-case kind, then `-<group's first label>-<version>`).
 */
export const jsonSchemaFile = `schemas/${kind.toLowerCase()}-${group.split(".")[0] ?? group}-${version}.json`;

export function renderJsonSchema(): string {
  return `${JSON.stringify(apiSecurityPolicyJsonSchema(), null, 2)}\n`;
}
