/**
 * Inline key sets through the real Envoy: a set Bulwark accepts is loaded by Envoy, and a set it
 * refuses is replaced by the unusable key set (ResolvedRefs=False, InvalidSecret), so the sidecar's
 * listener is never refused for a key. Each case also records what Envoy does with the raw set
 * when nothing checks it first: the sets it refuses are the ones that used to take a listener down.
 */
import { describe, expect, it } from "vitest";
import { standaloneBootstrap } from "../../../envoy/bootstrap/standalone-bootstrap.js";
import { UNUSABLE_JWKS } from "../../../operator/resolve/jwks.js";
import type { TranslationInput } from "../../../operator/resolve/objects.js";
import { jwksSecret, policy, service, sidecarPod } from "../../../operator/testdata/objects.js";
import { render, statusSummary } from "../../../operator/translate/render.js";
import { placeholderPems, validateWithEnvoy } from "../../support/envoy-validate.js";
import { jwksCases } from "../../support/jwks-cases.js";

function input(jwks: unknown): TranslationInput {
  return {
    policies: [
      policy({
        namespace: "shop",
        name: "api",
        created: "2026-01-01T00:00:00Z",
        spec: {
          targetRefs: [{ kind: "Service", name: "shop-api" }],
          authentication: { jwt: { providers: [{ name: "idp", issuer: "https://id.example.com/", audiences: ["shop"], jwks: { secretRef: { name: "idp-jwks" } } }] } },
          rules: [{ name: "orders", match: { pathPrefix: "/v1/" } }],
        },
      }),
    ],
    services: [service("shop", "shop-api", { app: "shop" })],
    pods: [sidecarPod("shop", "shop-0", { app: "shop" })],
    secrets: [jwksSecret("shop", "idp-jwks", jwks)],
    now: "2026-06-01T00:00:00Z",
  };
}

/** Replaces every inline JWKS of a bootstrap (what Envoy would load if the Secret went in unchecked). */
function withInlineJwks(node: unknown, jwks: string): number {
  if (typeof node !== "object" || node === null) return 0;
  const record = node as Record<string, unknown>;
  const local = record.local_jwks as { inline_string?: string } | undefined;
  let replaced = 0;
  if (local?.inline_string !== undefined) {
    local.inline_string = jwks;
    replaced += 1;
  }
  for (const value of Object.values(record)) replaced += withInlineJwks(value, jwks);
  return replaced;
}

describe("inline JWKS: what Bulwark accepts, the real Envoy loads", () => {
  it.each(jwksCases().map((c) => [c.name, c] as const))("%s", async (_name, c) => {
    const rendered = render(input(c.jwks));
    const workload = rendered.workloads[0];
    if (!workload) throw new Error("no workload rendered");
    const status = statusSummary(rendered.resolution)[0] as { resolvedRefs: { status: string; reason: string; message: string } };
    const bootstrap = standaloneBootstrap(workload.resources, { placeholders: await placeholderPems() });
    const inline = JSON.stringify(bootstrap).includes(JSON.stringify(UNUSABLE_JWKS).slice(1, -1));
    if (c.refused) {
      expect([status.resolvedRefs.status, status.resolvedRefs.reason]).toEqual(["False", "InvalidSecret"]);
      expect(status.resolvedRefs.message).toMatch(c.refused);
      expect(inline, "the unusable key set stands in for the refused one").toBe(true);
    } else {
      expect(status.resolvedRefs.status).toBe("True");
      expect(inline).toBe(false);
    }
    expect(await validateWithEnvoy(bootstrap)).toEqual({ accepted: true });

    const raw = structuredClone(bootstrap);
    expect(withInlineJwks(raw, JSON.stringify(c.jwks))).toBe(1);
    const alone = await validateWithEnvoy(raw);
    expect(alone.accepted ? "loads" : "refuses", alone.accepted ? "" : alone.error).toBe(c.envoyAlone);
  });
});
