import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";

const docs = join(import.meta.dirname, "..", "..", "docs", "gitops");

describe("docs/gitops/README.md", () => {
  it("gives argocd-cm the health script as it is in argocd-health.lua, under the key Argo CD looks up", () => {
    const readme = readFileSync(join(docs, "README.md"), "utf8");
    const block = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)]
      .map((m) => parse(m[1] ?? "") as { kind?: string; data?: Record<string, string> })
      .find((d) => d.kind === "ConfigMap");
    expect(block?.data?.["resource.customizations.health.bulwark.dev_APISecurityPolicy"]).toBe(readFileSync(join(docs, "argocd-health.lua"), "utf8"));
  });
});
