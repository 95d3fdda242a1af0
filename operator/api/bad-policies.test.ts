import { describe, expect, it } from "vitest";
import type { z } from "zod";
import { apiSecurityPolicy } from "./v1alpha1/index.js";
import { badPolicies, validPolicy } from "../../test/fixtures/bad-policies.js";
import { set } from "../../test/fixtures/json-path.js";

/** A zod issue path written the way the API server names fields: spec.rules[0].match. */
function fieldName(path: readonly PropertyKey[]): string {
  return path.map((part, i) => (typeof part === "number" ? `[${part}]` : i === 0 ? String(part) : `.${String(part)}`)).join("");
}

/** The fields zod blames, unknown keys included as the field they would be. */
function zodFields(error: z.ZodError): string[] {
  return error.issues.flatMap((issue) => (issue.code === "unrecognized_keys" ? issue.keys.map((key) => fieldName([...issue.path, key])) : [fieldName(issue.path)]));
}

/** The field an API server message names: `spec.x[0].y: Invalid value...` or `unknown field "spec.x"`; map keys as .key. */
function serverField(message: string): string {
  const unknown = /^unknown field "([^"]+)"/.exec(message);
  if (unknown?.[1]) return unknown[1];
  return (message.split(": ")[0] ?? "").replace(/\[([A-Za-z_][^\]]*)\]/g, ".$1");
}

/** zod blames the field the server names; a duplicate in a set the server reports on the repeated entry, zod on the list. */
function sameField(zod: string, server: string, message: string): boolean {
  return zod === server || (message.includes("Duplicate value") && server.replace(/\[\d+\]$/, "") === zod);
}

describe("the bad-manifest table", () => {
  it("has at least 45 cases, each described once and expecting at least one message", () => {
    expect(badPolicies.length).toBeGreaterThanOrEqual(45);
    expect(new Set(badPolicies.map((c) => c.description)).size).toBe(badPolicies.length);
    for (const c of badPolicies) expect(c.wantErrors.length, c.description).toBeGreaterThan(0);
  });

  it("starts from a policy zod accepts", () => {
    const result = apiSecurityPolicy.safeParse(validPolicy());
    expect(result.error?.issues ?? []).toEqual([]);
  });

  it("changes the base policy in every case", () => {
    for (const c of badPolicies) {
      const policy = validPolicy();
      c.mutate(policy);
      expect(policy, c.description).not.toEqual(validPolicy());
    }
  });
});

describe("zod, like the API server, rejects", () => {
  it.each(badPolicies)("$description", ({ mutate, wantErrors }) => {
    const policy = validPolicy();
    mutate(policy);
    const result = apiSecurityPolicy.safeParse(policy);
    expect(result.success, "zod accepted what the API server rejects").toBe(false);
    if (result.success) return;
    const blamed = zodFields(result.error);
    const named = wantErrors.map((message) => ({ message, field: serverField(message) }));
    const agree = named.some(({ message, field }) => blamed.some((zod) => sameField(zod, field, message)));
    expect(agree, `zod blames ${blamed.join(", ")}; the API server ${named.map((n) => n.field).join(", ")}`).toBe(true);
  });
});

describe("rules only the operator checks", () => {
  it("refuses a path template that repeats a variable", () => {
    const policy = validPolicy();
    set(policy, "spec.rules[1].match.pathTemplate", "/v1/users/{userId}/orders/{userId}");
    const result = apiSecurityPolicy.safeParse(policy);
    expect(result.error?.issues.map((i) => ({ path: fieldName(i.path), message: i.message }))).toEqual([
      { path: "spec.rules[1].match.pathTemplate", message: "pathTemplate variables must have distinct names" },
    ]);
  });
});
