import { stringify } from "yaml";
import { customResourceDefinition, openApi } from "./crd.js";
import { inventoryKind, inventoryPlural, inventorySingular, inventoryStatus } from "./v1alpha1/api-inventory.js";
import { group } from "./v1alpha1/policy.js";

type JsonSchema = Record<string, unknown>;

const summary = (field: string): string => `.status.summary.${field}`;

/** The CustomResourceDefinition of APIInventory (status only), generated from the zod schema. */
export function apiInventoryCrd(): JsonSchema {
  return customResourceDefinition({
    kind: inventoryKind,
    plural: inventoryPlural,
    singular: inventorySingular,
    shortNames: ["apiinv"],
    printerColumns: [
      { name: "Documented", type: "integer", description: "Endpoints called and declared.", jsonPath: summary("documented") },
      { name: "Shadow", type: "integer", description: "Endpoints called but not declared.", jsonPath: summary("shadow") },
      { name: "Zombie", type: "integer", description: "Deprecated or retired endpoints still called.", jsonPath: summary("zombie") },
      { name: "Unused", type: "integer", description: "Declared endpoints never called.", jsonPath: summary("unused") },
      { name: "Requests", type: "integer", description: "Requests seen.", jsonPath: summary("observed") },
      { name: "Updated", type: "date", description: "When the inventory was computed.", jsonPath: ".status.updatedAt" },
      { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
    ],
    description:
      "APIInventory lists the endpoints an APISecurityPolicy's workloads are actually called on, learned from the sidecars' telemetry, and classifies each as documented, shadow, zombie or unused. One per policy, with the policy's name and namespace; written by bulwark telemetry, status only.",
    fields: { status: openApi(inventoryStatus, "status") },
  });
}

export const inventoryCrdFile = `crds/${group}_${inventoryPlural}.yaml`;

export function renderInventoryCrdYaml(): string {
  return `# Generated from operator/api/v1alpha1 by \`npm run generate\`; do not edit.\n${stringify(apiInventoryCrd(), { lineWidth: 0 })}`;
}
