import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compileTemplate, findDeclared } from "./declared-template.js";

const declared = ["/v1/orders/{id}", "/v1/orders/summary", "/v1/users/{userId}/orders/{orderId}", "/files/{name}.json", "/pets/{petId}/"].map((t) => compileTemplate(t));

describe("findDeclared", () => {
  it("counts a path under the declared template it falls under", () => {
    expect(findDeclared("/v1/orders/123", declared)?.template).toBe("/v1/orders/{id}");
    expect(findDeclared("/v1/users/alice/orders/9", declared)?.template).toBe("/v1/users/{userId}/orders/{orderId}");
    expect(findDeclared("/files/report.json", declared)?.template).toBe("/files/{name}.json");
    expect(findDeclared("/pets/7/", declared)?.template).toBe("/pets/{petId}");
  });

  it("prefers the most literal template", () => {
    expect(findDeclared("/v1/orders/summary", declared)?.template).toBe("/v1/orders/summary");
  });

  it("matches whole segments only", () => {
    expect(findDeclared("/v1/orders", declared)).toBeUndefined();
    expect(findDeclared("/v1/orders/1/2", declared)).toBeUndefined();
    expect(findDeclared("/files/report.xml", declared)).toBeUndefined();
    expect(findDeclared("/v1/orders//", declared)).toBeUndefined();
  });

  it("compares case as the policy's backendMatching says", () => {
    expect(findDeclared("/V1/Orders/5", declared)?.template).toBe("/v1/orders/{id}");
    expect(findDeclared("/V1/Orders/5", [compileTemplate("/v1/orders/{id}", true)], true)).toBeUndefined();
  });

  it("matches every filling of a template's variables with one segment each", () => {
    const literal = fc.stringMatching(/^[a-z]{1,8}$/);
    const value = fc.stringMatching(/^[A-Za-z0-9._~-]{1,20}$/);
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            literal.map((l) => ({ l })),
            fc.constant({ v: true as const }),
          ),
          { minLength: 1, maxLength: 8 },
        ),
        fc.array(value, { minLength: 8, maxLength: 8 }),
        (parts, values) => {
          let n = 0;
          const template = `/${parts.map((p, i) => ("l" in p ? p.l : `{v${i}}`)).join("/")}`;
          const path = `/${parts.map((p) => ("l" in p ? p.l : values[n++]!)).join("/")}`;
          const compiled = compileTemplate(template);
          return findDeclared(path, [compiled])?.template === template && findDeclared(`${path}/extra`, [compiled]) === undefined;
        },
      ),
    );
  });
});
