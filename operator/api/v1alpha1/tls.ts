import { z } from "zod";

export const tls = z
  .object({
    minVersion: z.enum(["TLSv1.2", "TLSv1.3"]).default("TLSv1.2").describe("Oldest TLS version the sidecar accepts on its inbound listener."),
    mtls: z
      .enum(["Disabled", "Permissive", "Strict"])
      .default("Disabled")
      .describe(
        "Mutual TLS with workload certificates issued by Bulwark. Strict refuses plaintext and peers without a certificate of the mesh; Permissive accepts both while clients migrate; Disabled serves TLS without asking for a client certificate.",
      ),
  })
  .strict()
  .meta({ description: "TLS on the sidecar's inbound listener, with the workload certificate Bulwark issues." });
