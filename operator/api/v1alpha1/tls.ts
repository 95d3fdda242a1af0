import { z } from "zod";
import { boundedDuration, dnsSubdomain, durationSeconds } from "./common.js";
import { withRules } from "./validation.js";

/** One year: what HSTS preload lists demand as the least max-age, and the default. */
export const HSTS_PRELOAD_MIN_AGE = "8760h";

const certificate = z
  .object({
    secretRef: z
      .object({ name: dnsSubdomain("Name of the Secret, in the policy's namespace.") })
      .strict()
      .meta({
        description:
          "A Secret of type kubernetes.io/tls in the policy's namespace (what cert-manager writes), with the certificate chain in tls.crt and its private key in tls.key. A change of the Secret reaches the sidecar over SDS: new connections get the new certificate, open ones stay.",
      }),
  })
  .strict()
  .meta({
    description:
      "A public certificate the sidecar serves on its inbound listener instead of the mesh's workload certificate, for clients outside the mesh (a backend behind an L4 load balancer terminates its public TLS at the sidecar). Needs mtls Disabled; the workload is then no destination of the mesh's egress proxy.",
  });

const hsts = withRules(
  z
    .object({
      maxAge: boundedDuration({
        description: "How long browsers remember to use HTTPS only (HSTS max-age), up to a year (8760h, what preload lists ask for); 0s tells them to forget.",
        min: "0s",
        max: HSTS_PRELOAD_MIN_AGE,
      }).default(HSTS_PRELOAD_MIN_AGE),
      includeSubDomains: z.boolean().default(false).describe("Apply the HSTS rule to every subdomain of the host too (includeSubDomains)."),
      preload: z.boolean().default(false).describe("Ask to be put on browsers' HSTS preload lists (preload); needs includeSubDomains and a maxAge of at least 8760h."),
    })
    .strict(),
  "A Strict-Transport-Security header (RFC 6797) on every response of the listener (all of them go over TLS with a public certificate); it overwrites one the app sets.",
  [
    {
      cel: `!self.preload || (self.includeSubDomains && duration(self.maxAge) >= duration("${HSTS_PRELOAD_MIN_AGE}"))`,
      message: `preload needs includeSubDomains and a maxAge of at least ${HSTS_PRELOAD_MIN_AGE}: preload lists refuse anything less`,
      fieldPath: ".preload",
      holds: (v) => !v.preload || (v.includeSubDomains && durationSeconds(v.maxAge) >= durationSeconds(HSTS_PRELOAD_MIN_AGE)),
    },
  ],
);

export const tls = withRules(
  z
    .object({
      minVersion: z
        .enum(["TLSv1.2", "TLSv1.3"])
        .optional()
        .describe(
          "Oldest TLS version the sidecar accepts on its inbound listener. Absent: TLSv1.3 with a public certificate (clients on the internet all speak it), TLSv1.2 otherwise.",
        ),
      mtls: z
        .enum(["Disabled", "Permissive", "Strict"])
        .default("Disabled")
        .describe(
          "Mutual TLS with workload certificates issued by Bulwark. Strict refuses plaintext and peers without a certificate of the mesh; Permissive accepts both while clients migrate; Disabled serves TLS without asking for a client certificate.",
        ),
      certificate: certificate.optional(),
      hsts: hsts.optional(),
    })
    .strict(),
  "TLS on the sidecar's inbound listener: the workload certificate Bulwark issues, or a public certificate from a Secret.",
  [
    {
      cel: "!has(self.certificate) || !has(self.mtls) || self.mtls == 'Disabled'",
      message: "certificate (a public certificate) needs mtls Disabled: mutual TLS asks for the mesh's certificates, which clients outside the mesh do not have",
      fieldPath: ".certificate",
      holds: (v) => v.certificate === undefined || v.mtls === "Disabled",
    },
    {
      cel: "!has(self.hsts) || has(self.certificate)",
      message: "hsts needs certificate: browsers only take Strict-Transport-Security from a host whose certificate they trust, which the mesh's certificate is not",
      fieldPath: ".hsts",
      holds: (v) => v.hsts === undefined || v.certificate !== undefined,
    },
  ],
);
