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

const signalCount = z
  .object({
    kind: z
      .enum(["FailedAuthSpike", "CredentialStuffing", "CardTesting", "Enumeration", "Scraping", "ImpossibleTravel", "ReplayedProof", "AttestationFailure"])
      .describe("The abuse signal (docs/signals.md defines each)."),
    count: z.number().int().min(0).describe("Times it fired in the last hour."),
    lastSeen: z.string().max(64).describe("When it last fired (RFC 3339)."),
  })
  .strict()
  .meta({ description: "One abuse signal that fired for the policy's workloads." });

/** What bulwark telemetry concluded from the sidecars' traffic; written by it (field manager bulwark-telemetry), never by the controller. */
export const trafficStatus = z
  .object({
    documented: z.number().int().min(0).describe("Endpoints called and declared (by a rule or the OpenAPI document)."),
    shadow: z.number().int().min(0).describe("Endpoints called but not declared: `kubectl get apiinventory <policy>` lists them."),
    zombie: z.number().int().min(0).describe("Deprecated or retired endpoints still called."),
    unused: z.number().int().min(0).describe("Declared endpoints never called since the inventory began."),
    blocked: z.number().int().min(0).describe("Identities (addresses, devices, accounts) the adaptive response blocks or throttles now (`bulwark blocks list`)."),
    shadowActions: z.number().int().min(0).describe("Blocks and throttles recorded in Shadow mode: reported, not enforced."),
    signals: z
      .array(signalCount)
      .max(8)
      .optional()
      .meta({ description: "Abuse signals that fired in the last hour, by kind.", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["kind"] }),
    updated: z.string().max(64).describe("When bulwark telemetry last wrote this (RFC 3339)."),
  })
  .strict()
  .meta({ description: "What bulwark telemetry observed in the traffic of the policy's workloads; absent until it has seen some." });

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
    traffic: trafficStatus.optional(),
  })
  .strict()
  .meta({ description: "What the operator observed; written by Bulwark, not by users." });
