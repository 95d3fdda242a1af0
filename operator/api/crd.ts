import { z } from "zod";
import { stringify } from "yaml";
import { group, kind, plural, policySpec, version } from "./v1alpha1/policy.js";
import { policyStatus } from "./v1alpha1/status.js";

type JsonSchema = Record<string, unknown>;

/** Keywords zod emits that a Kubernetes structural schema does not allow or need. */
const droppedKeywords = new Set(["$schema", "propertyNames", "id"]);
const forbiddenKeywords = ["anyOf", "oneOf", "allOf", "not", "$ref", "definitions", "$defs"];

/**
 * Turns zod's OpenAPI 3.0 output into a Kubernetes structural schema: every node typed,
 * no `additionalProperties: false` (the API server prunes unknown fields instead), no
 * combinators or references.
 */
export function toStructural(schema: JsonSchema, path = "spec"): JsonSchema {
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(schema)) {
    if (droppedKeywords.has(key)) continue;
    if (forbiddenKeywords.includes(key)) throw new Error(`${path}: ${key} is not allowed in a structural schema; model it with optional fields and a CEL rule`);
    if (key === "additionalProperties" && value === false) continue;
    if (key === "properties") {
      const properties: JsonSchema = {};
      for (const [name, child] of Object.entries(value as Record<string, JsonSchema>)) properties[name] = toStructural(child, `${path}.${name}`);
      out.properties = properties;
    } else if (key === "items" || (key === "additionalProperties" && typeof value === "object")) {
      out[key] = toStructural(value as JsonSchema, `${path}[]`);
    } else {
      out[key] = value;
    }
  }
  if (typeof out.type !== "string") throw new Error(`${path}: has no type; a structural schema types every node`);
  return out;
}

export function openApi(schema: z.ZodType, path: string): JsonSchema {
  return toStructural(z.toJSONSchema(schema, { target: "openapi-3.0", io: "input", unrepresentable: "throw" }), path);
}

const conditionStatus = (type: string): string => `.status.conditions[?(@.type=="${type}")].status`;

/** What tells Bulwark's custom resources apart; the rest of their CustomResourceDefinition is the same. */
export interface CustomResource {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  printerColumns: JsonSchema[];
  /** The resource's description for `kubectl explain`. */
  description: string;
  /** The schemas of its top-level fields besides apiVersion, kind and metadata (spec, status). */
  fields: Record<string, JsonSchema>;
  required?: string[];
}

/** A namespaced CustomResourceDefinition of group bulwark.dev, one served and stored version, with a status subresource. */
export function customResourceDefinition(resource: CustomResource): JsonSchema {
  const { kind: resourceKind, plural: resourcePlural } = resource;
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: {
      name: `${resourcePlural}.${group}`,
      labels: { "app.kubernetes.io/name": "bulwark", "app.kubernetes.io/component": "crd" },
    },
    spec: {
      group,
      names: { kind: resourceKind, listKind: `${resourceKind}List`, plural: resourcePlural, singular: resource.singular, shortNames: resource.shortNames, categories: ["bulwark"] },
      scope: "Namespaced",
      versions: [
        {
          name: version,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: resource.printerColumns,
          schema: {
            openAPIV3Schema: {
              type: "object",
              description: resource.description,
              ...(resource.required ? { required: resource.required } : {}),
              properties: {
                apiVersion: { type: "string", description: `APIVersion of this object: ${group}/${version}.` },
                kind: { type: "string", description: `Kind of this object: ${resourceKind}.` },
                metadata: { type: "object" },
                ...resource.fields,
              },
            },
          },
        },
      ],
    },
  };
}

/** The CustomResourceDefinition of APISecurityPolicy, generated from the zod schema. */
export function apiSecurityPolicyCrd(): JsonSchema {
  return customResourceDefinition({
    kind,
    plural,
    singular: "apisecuritypolicy",
    shortNames: ["asp"],
    printerColumns: [
      { name: "Targets", type: "string", description: "Services or pod selector the policy applies to.", jsonPath: ".spec.targetRefs[*].name" },
      { name: "Accepted", type: "string", description: "Whether the policy is valid and governs its targets.", jsonPath: conditionStatus("Accepted") },
      { name: "Programmed", type: "string", description: "Sidecars running this generation, out of all.", jsonPath: ".status.sidecars" },
      { name: "Ready", type: "string", description: "Accepted, references resolved and programmed.", jsonPath: conditionStatus("Ready") },
      // Shown by default: it tells Ready=True NoSidecars (nothing enforces it yet) from Ready, and Pending (in progress) from what must change.
      {
        name: "Reason",
        type: "string",
        description: "Ready's reason: Ready, NoSidecars (no sidecar serves the targets yet), Pending (sidecars still to acknowledge) or what must change first.",
        jsonPath: `.status.conditions[?(@.type=="Ready")].reason`,
      },
      // -o wide: what bulwark telemetry saw (status.traffic).
      {
        name: "Shadow",
        type: "integer",
        priority: 1,
        description: "Endpoints called but not declared (kubectl get apiinventory <name>).",
        jsonPath: ".status.traffic.shadow",
      },
      { name: "Zombie", type: "integer", priority: 1, description: "Deprecated or retired endpoints still called.", jsonPath: ".status.traffic.zombie" },
      { name: "Blocked", type: "integer", priority: 1, description: "Identities the adaptive response blocks or throttles now.", jsonPath: ".status.traffic.blocked" },
      { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
    ],
    description:
      "APISecurityPolicy declares what a mobile app's backend API needs — token authentication and sender constraints, per-route rules, ownership checks, rate limits, TLS and mobile practices — and Bulwark enforces it in the Envoy sidecar of every targeted pod.",
    required: ["spec"],
    fields: { spec: openApi(policySpec, "spec"), status: openApi(policyStatus, "status") },
  });
}

export const crdFile = `crds/${group}_${plural}.yaml`;

export function renderCrdYaml(): string {
  return `# Generated from operator/api/v1alpha1 by \`npm run generate\`; do not edit.\n${stringify(apiSecurityPolicyCrd(), { lineWidth: 0 })}`;
}
