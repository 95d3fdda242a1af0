import { draft7 } from "./json-schema.js";
import { inventoryKind, inventoryStatus } from "./v1alpha1/api-inventory.js";
import { group, version } from "./v1alpha1/policy.js";

/** The JSON Schema of an APIInventory object (for kubeconform and editors), from the same zod source as its CRD. */
export function apiInventoryJsonSchema(): Record<string, unknown> {
  return {
    $schema: "http://json-schema.org/draft-07/schema#",
    title: `${inventoryKind} (${group}/${version})`,
    description: "Generated from operator/api/v1alpha1 by `npm run generate`; do not edit. APIInventory objects are written by bulwark telemetry: status only.",
    type: "object",
    required: ["apiVersion", "kind", "metadata"],
    additionalProperties: false,
    properties: {
      apiVersion: { type: "string", enum: [`${group}/${version}`] },
      kind: { type: "string", enum: [inventoryKind] },
      metadata: { type: "object" },
      status: draft7(inventoryStatus),
    },
  };
}

/** kubeconform's layout, as jsonSchemaFile. */
export const inventoryJsonSchemaFile = `schemas/${inventoryKind.toLowerCase()}-${group.split(".")[0] ?? group}-${version}.json`;

export function renderInventoryJsonSchema(): string {
  return `${JSON.stringify(apiInventoryJsonSchema(), null, 2)}\n`;
}
