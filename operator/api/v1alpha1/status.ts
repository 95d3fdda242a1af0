import { z } from "zod";

export const condition = z
  .object({
    type: z.string().max(316).describe("Type of the condition: Accepted, ResolvedRefs, Programmed, Ready, Stalled, Reconciling, Warnings or SidecarBypass."),
    status: z.enum(["True", "False", "Unknown"]).describe("True, False or Unknown."),
    observedGeneration: z.number().int().min(0).optional().describe("metadata.generation the condition was computed from."),
    lastTransitionTime: z.string().max(64).describe("When the status last changed (RFC 3339)."),
    reason: z.string().max(1024).describe("CamelCase reason for the status, one of the documented constants."),
    message: z.string().max(32768).describe("What happened, in words, for humans."),
  })
  .strict()
  .meta({ description: "A condition of the policy, in the shape of metav1.Condition." });

export const targetStatus = z
  .object({
    kind: z.string().max(64).describe("Kind of the target."),
    name: z.string().max(253).describe("Name of the target (for a pod selector, the selector written as labels)."),
    sidecars: z.number().int().min(0).describe("Sidecars that serve the target."),
    programmed: z.number().int().min(0).describe("Sidecars that run the configuration of the current generation."),
  })
  .strict()
  .meta({ description: "How far the policy reached one target." });

export const policyStatus = z
  .object({
    observedGeneration: z.number().int().min(0).optional().describe("metadata.generation the status was computed from."),
    conditions: z
      .array(condition)
      .max(8)
      .optional()
      .meta({
        description:
          "Accepted, ResolvedRefs, Programmed and Ready (Ready=True once all three are); Stalled (it cannot progress until something changes) or Reconciling (sidecars still to acknowledge), present only when True, as kstatus reads them; Warnings is True when part of the policy is enforced but probably unintended, and never makes Ready False.",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["type"],
      }),
    targets: z.array(targetStatus).max(64).optional().meta({ description: "Per target: sidecars and how many run the current generation.", "x-kubernetes-list-type": "atomic" }),
    sidecars: z.string().max(32).optional().describe("Programmed sidecars over all sidecars of the targets, e.g. 3/3 (for kubectl get)."),
  })
  .strict()
  .meta({ description: "What the operator observed; written by Bulwark, not by users." });
