import { describe, expect, it } from "vitest";
import { apiSecurityPolicy } from "./v1alpha1/index.js";
import { examples } from "../../test/fixtures/examples.js";

describe("examples/", () => {
  const all = examples();

  it("holds the shop, payments and legacy v1 policies", () => {
    expect(all.map((e) => e.file)).toEqual(expect.arrayContaining(["shop-api.yaml", "payments-api.yaml", "legacy-v1-api.yaml"]));
  });

  it.each(all)("$file is valid for the operator's schema", ({ manifest }) => {
    const result = apiSecurityPolicy.safeParse(manifest);
    expect(result.error?.issues ?? []).toEqual([]);
  });

  it.each(all)("$file leaves the namespace to kubectl -n and explains itself", ({ manifest, text }) => {
    expect(manifest.metadata.namespace).toBeUndefined();
    // A header comment before the object, and comments on the fields.
    expect(text.trimStart().startsWith("#")).toBe(true);
    expect(text.split("\n").filter((line) => /\S\s+#\s/.test(line)).length).toBeGreaterThanOrEqual(5);
  });
});
