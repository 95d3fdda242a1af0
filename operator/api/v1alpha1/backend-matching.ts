import { z } from "zod";

/**
 * How the protected backend tells request paths apart. Bulwark matches rules, checks ownership
 * and keys rate limits the same way, so a request the backend treats as a protected route (in
 * another case, with a trailing slash) never falls through to a laxer rule.
 */
export const backendMatching = z
  .object({
    caseSensitive: z
      .boolean()
      .default(false)
      .describe(
        "Whether the backend tells paths apart by letter case. false (the default, what Express, Spring before 6, Rails and servlet containers configured case-insensitively do): rules match `/v1/USERS/bob` like `/v1/users/bob`. Set true only when the backend refuses or routes elsewhere paths in another case.",
      ),
    trailingSlash: z
      .enum(["Ignore", "Strict"])
      .default("Ignore")
      .describe("Ignore (the default): `/v1/orders/` is the same route as `/v1/orders`, as most frameworks treat it. Strict: the backend serves them as different routes."),
  })
  .strict()
  .meta({
    description:
      "How the backend matches paths; absent: caseSensitive false and trailingSlash Ignore, the safe choice (a rule then covers every spelling the backend accepts). Whatever it says, the sidecar also refuses (400) path parameters (`;`), method-override headers and header names with underscores, serves HEAD under the rule for GET, and refuses duplicated headers that a decision reads.",
  });

export type BackendMatching = z.output<typeof backendMatching>;
