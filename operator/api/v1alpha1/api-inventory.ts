/**
 * APIInventory: what a policy's workloads are actually called on, one object per
 * APISecurityPolicy (same name and namespace), written by `bulwark telemetry` and read with
 * `kubectl get apiinventories` / `kubectl get apiinv NAME -o yaml`. It has no spec: everything
 * is status, so users cannot edit it and the writer needs only the status subresource after
 * creating it.
 */
import { z } from "zod";

export const inventoryKind = "APIInventory";
export const inventoryPlural = "apiinventories";
export const inventorySingular = "apiinventory";

/** Endpoints kept per workload in the object (the service's table may hold more; etcd objects stay well under 1.5 MiB). */
export const maxInventoryEndpoints = 1000;
export const maxInventoryWorkloads = 16;

const count = (description: string): z.ZodNumber => z.number().int().min(0).describe(description);
const timestamp = (description: string): z.ZodString => z.string().max(64).describe(description);

export const inventoryEndpoint = z
  .object({
    method: z.string().max(16).describe("HTTP method, upper case; OTHER for methods outside RFC 9110's, * for a rule that takes any."),
    path: z
      .string()
      .max(1024)
      .describe("Path template: identifiers (numbers, UUIDs, opaque tokens, high-cardinality segments) appear as {param}; a declared template keeps its variable names."),
    class: z
      .enum(["documented", "shadow", "zombie", "unused"])
      .describe(
        "documented: called and declared by a rule or the OpenAPI document; shadow: called but not declared (caught by the default Deny's 404, or let through only by the default Allow or a prefix rule); zombie: deprecated or past its sunset yet still called; unused: declared, never called.",
      ),
    count: count("Requests seen; 0 for unused."),
    statuses: z.record(z.string().max(3), z.number().int().min(0)).optional().describe("Requests by response class: 2xx, 3xx, 4xx, 5xx, and 0 when no response was sent."),
    authenticated: count("Requests that carried a verified credential (JWT or API key)."),
    appVersions: z
      .array(z.string().max(64))
      .max(10)
      .optional()
      .meta({ description: "App versions seen calling it, most frequent first (at most 10).", "x-kubernetes-list-type": "atomic" }),
    firstSeen: timestamp("When it was first called (RFC 3339); absent for unused.").optional(),
    lastSeen: timestamp("When it was last called (RFC 3339); absent for unused.").optional(),
    declaredBy: z.string().max(512).optional().describe("What declares it: the policy's route (apisecuritypolicy/<ns>/<name>/rule/<rule>, .../deprecation/<i>/sunset) or openapi."),
  })
  .strict()
  .meta({ description: "One endpoint of the API: a method and a path template, with what traffic showed." });

export const workloadInventory = z
  .object({
    workload: z.string().max(512).describe("The workload (the policy's pods on one port): apisecuritypolicy/<ns>/<name>/ports/<sidecar>-<app>."),
    observed: count("Requests seen on this workload."),
    dropped: count("Requests whose endpoint was not kept because the workload's endpoint table was full."),
    endpoints: z
      .array(inventoryEndpoint)
      .max(maxInventoryEndpoints)
      .meta({ description: "Endpoints sorted by path, then method; shadow and zombie first when the list had to be cut.", "x-kubernetes-list-type": "atomic" }),
  })
  .strict()
  .meta({ description: "The endpoints of one workload of the policy." });

export const inventorySummary = z
  .object({
    documented: count("Endpoints called and declared."),
    shadow: count("Endpoints called but not declared."),
    zombie: count("Deprecated or retired endpoints still called."),
    unused: count("Declared endpoints never called."),
    observed: count("Requests seen on all workloads."),
    dropped: count("Requests whose endpoint could not be kept because a workload's endpoint table was full."),
    omitted: count("Endpoints left out of this object (it holds at most 1000 per workload and 16 workloads); the class counts include them."),
  })
  .strict()
  .meta({ description: "Counts over every workload: what kubectl get shows." });

export const inventoryStatus = z
  .object({
    summary: inventorySummary,
    workloads: z.array(workloadInventory).max(maxInventoryWorkloads).meta({ description: "Per workload of the policy, sorted by name.", "x-kubernetes-list-type": "atomic" }),
    openAPI: z
      .object({
        source: z.string().max(2048).describe("Where the document was read: configmap/<name>/<key> or the URL."),
        errors: z.array(z.string().max(1024)).max(8).optional().meta({ description: "What could not be read from it.", "x-kubernetes-list-type": "atomic" }),
      })
      .strict()
      .optional()
      .meta({ description: "The OpenAPI document compared with, when the policy names one." }),
    policyGeneration: z.number().int().min(0).optional().describe("metadata.generation of the policy the routes were read from."),
    updatedAt: timestamp("When this inventory was computed (RFC 3339)."),
  })
  .strict()
  .meta({ description: "The observed API of the policy's workloads." });

export type APIInventoryStatus = z.output<typeof inventoryStatus>;
export type APIInventoryEndpoint = z.output<typeof inventoryEndpoint>;
