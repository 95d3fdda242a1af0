import { z } from "zod";
import { dnsLabel, dnsSubdomain } from "./common.js";
import { withRules } from "./validation.js";

/** One mesh caller: a ServiceAccount, or every ServiceAccount of a namespace. */
export const caller = withRules(
  z
    .object({
      namespace: dnsLabel("The caller's namespace; absent: the policy's own namespace.").optional(),
      serviceAccount: dnsSubdomain("The caller's ServiceAccount; absent: every ServiceAccount of the namespace.").optional(),
    })
    .strict(),
  "A workload of the mesh, by the identity in its certificate (spiffe://<trust domain>/ns/<namespace>/sa/<serviceAccount>).",
  [
    {
      cel: "has(self.namespace) || has(self.serviceAccount)",
      message: "set namespace, serviceAccount or both",
      holds: (v) => v.namespace !== undefined || v.serviceAccount !== undefined,
    },
  ],
);

/**
 * Mesh authorization by peer identity (as Istio's AuthorizationPolicy `from.source`): only
 * callers whose mesh certificate names one of these may use the rule's routes.
 */
export const callers = z.array(caller).min(1).max(32).meta({
  description:
    "Only mesh workloads listed here may use the rule's routes: the caller's mesh certificate (mTLS, spec.tls.mtls Strict or Permissive) must name one of them. Anyone else, plaintext callers included, is refused with 403 and x-bulwark-reason: caller_denied before any other check. Needs the controller's mesh identity.",
  "x-kubernetes-list-type": "atomic",
});

export type Caller = z.output<typeof caller>;
