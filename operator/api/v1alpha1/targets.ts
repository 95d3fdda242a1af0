import { z } from "zod";
import { dnsLabel } from "./common.js";
import { withRules } from "./validation.js";

export const targetRef = z
  .object({
    kind: z.enum(["Service"]).describe("Kind of the target; Service selects the pods behind it."),
    name: dnsLabel("Name of the Service, in the policy's namespace."),
  })
  .strict()
  .meta({ description: "A workload whose sidecars enforce the policy." });

const labelKey = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const labelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

export const podSelector = withRules(
  z
    .object({
      matchLabels: z.record(z.string().max(317), z.string().max(63)).meta({ description: "Labels a pod must carry, all of them.", minProperties: 1, maxProperties: 16 }),
    })
    .strict(),
  "Pods in the policy's namespace whose labels include all of matchLabels.",
  [
    {
      message: "matchLabels needs between 1 and 16 labels: an empty selector would select every pod of the namespace",
      fieldPath: ".matchLabels",
      holds: (v) => Object.keys(v.matchLabels).length >= 1 && Object.keys(v.matchLabels).length <= 16,
    },
    {
      cel: `self.matchLabels.all(k, k.matches(r"${labelKey.source}") && self.matchLabels[k].matches(r"${labelValue.source}"))`,
      message: "matchLabels must hold valid Kubernetes label keys and values",
      fieldPath: ".matchLabels",
      holds: (v) => Object.entries(v.matchLabels).every(([k, value]) => labelKey.test(k) && labelValue.test(value)),
    },
  ],
);
