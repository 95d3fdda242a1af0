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

/** An optional DNS-subdomain prefix and a slash, then a name of at most 63 characters. */
const labelKey = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
/** The longest prefix of a label key (a DNS subdomain), before the slash. */
const maxLabelPrefixLength = 253;
const labelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

export const podSelector = withRules(
  z
    .object({
      // The key's length is part of the rule below: the API server has no keyword for the length of a map key.
      matchLabels: z
        .record(z.string(), z.string().max(63).describe("Value the label must have."))
        .meta({ description: "Labels a pod must carry, all of them.", minProperties: 1, maxProperties: 16 }),
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
      cel: `self.matchLabels.all(k, k.matches(r"${labelKey.source}") && (!k.contains("/") || k.indexOf("/") <= ${maxLabelPrefixLength}) && self.matchLabels[k].matches(r"${labelValue.source}"))`,
      message: "matchLabels must hold valid Kubernetes label keys and values",
      fieldPath: ".matchLabels",
      holds: (v) => Object.entries(v.matchLabels).every(([k, value]) => labelKey.test(k) && (!k.includes("/") || k.indexOf("/") <= maxLabelPrefixLength) && labelValue.test(value)),
    },
  ],
);
