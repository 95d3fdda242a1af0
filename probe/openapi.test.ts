import { describe, expect, it } from "vitest";
import type { RouteIR } from "../contract/ir.js";
import { documentedExamples } from "./checks/context.js";
import type { CheckContext } from "./checks/context.js";
import { documentedPath, readOpenApi } from "./openapi.js";

const yamlDoc = `
openapi: 3.0.3
info: {title: shop, version: "1"}
components:
  parameters:
    OrderId: {name: orderId, in: path, required: true, schema: {type: string, example: ord-77}}
paths:
  /v1/users/{userId}/orders/{orderId}:
    parameters:
      - {name: userId, in: path, required: true, example: u-1001}
      - $ref: '#/components/parameters/OrderId'
    get: {responses: {"200": {description: ok}}}
    delete: {responses: {"204": {description: gone}}}
  /v1/wallets/{ownerId}:
    get:
      parameters:
        - name: ownerId
          in: path
          required: true
          examples: {alice: {value: w-alice}, bob: {value: 42}}
        - {name: verbose, in: query, example: "true"}
      responses: {"200": {description: ok}}
  /internal/debug: {}
`;

describe("an OpenAPI document as the probe reads it", () => {
  it("reads the paths, their methods and the examples of their path parameters (example, examples, schema.example, $ref)", () => {
    const doc = readOpenApi(yamlDoc, "shop.yaml");
    expect(doc.version).toBe("3.0.3");
    expect(doc.paths).toEqual([
      { template: "/v1/users/{userId}/orders/{orderId}", methods: ["GET", "DELETE"], examples: { userId: ["u-1001"], orderId: ["ord-77"] } },
      { template: "/v1/wallets/{ownerId}", methods: ["GET"], examples: { ownerId: ["w-alice", "42"] } },
      { template: "/internal/debug", methods: ["GET"], examples: {} },
    ]);
    expect(documentedPath(doc.paths[0]!)).toBe("/v1/users/u-1001/orders/ord-77");
    expect(documentedPath(doc.paths[0]!, { userId: "user b" })).toBe("/v1/users/user%20b/orders/ord-77");
    expect(documentedPath({ template: "/v1/x/{id}", methods: ["GET"], examples: {} })).toBe("/v1/x/probe-1");
  });

  it("reads JSON too", () => {
    expect(readOpenApi(JSON.stringify({ openapi: "3.1.0", paths: { "/v1/a": { post: {} } } }), "a.json").paths).toEqual([{ template: "/v1/a", methods: ["POST"], examples: {} }]);
  });

  it("refuses what is not an OpenAPI 3 document, with a clear message", () => {
    expect(() => readOpenApi("swagger: '2.0'\npaths: {/a: {}}", "old.yaml")).toThrow("old.yaml is not an OpenAPI 3 document (no openapi field; Swagger 2 is not read)");
    expect(() => readOpenApi("openapi: 2.0\npaths: {/a: {}}", "x.yaml")).toThrow("x.yaml is not an OpenAPI 3 document (openapi: 2)");
    expect(() => readOpenApi("- a\n- b", "list.yaml")).toThrow("list.yaml is not an OpenAPI 3 document (not a mapping)");
    expect(() => readOpenApi("openapi: 3.0.0\ninfo: {}", "empty.yaml")).toThrow("empty.yaml declares no paths");
    expect(() => readOpenApi("openapi: 3.0.0\npaths: {}", "empty.yaml")).toThrow("empty.yaml declares no paths");
    expect(() => readOpenApi("openapi: 3.0.0\npaths: {v1/a: {}}", "rel.yaml")).toThrow('rel.yaml: path "v1/a" does not start with /');
    expect(() => readOpenApi("{ openapi: [", "broken.yaml")).toThrow(/^broken.yaml is neither JSON nor YAML/);
  });

  it("gives a policy route's variables the examples of the documented path of the same shape, by position", () => {
    const route = {
      name: "p/rule/orders",
      match: { path: { kind: "template", template: "/v1/users/{uid}/orders/{id}", variables: ["uid", "id"] }, methods: ["GET"] },
      action: { kind: "forward", checks: { authentication: "Required", globalRateLimits: [] }, responseHeaders: [] },
    } as RouteIR;
    const ctx = { plan: { openapi: readOpenApi(yamlDoc, "shop.yaml") } } as unknown as CheckContext;
    expect(documentedExamples(ctx, route)).toEqual({ uid: "u-1001", id: "ord-77" });
    expect(documentedExamples({ plan: {} } as unknown as CheckContext, route)).toEqual({});
  });
});
