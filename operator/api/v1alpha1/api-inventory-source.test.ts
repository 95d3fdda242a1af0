import { describe, expect, it } from "vitest";
import { openApiSource } from "./api-inventory-source.js";

describe("spec.apiInventory.openAPI", () => {
  it("takes a ConfigMap key, an https URL or http to an in-cluster Service", () => {
    for (const source of [
      { configMap: { name: "shop-openapi", key: "openapi.yaml" } },
      { url: "https://docs.example.com/shop/openapi.json" },
      { url: "http://shop-api.shop.svc:8080/openapi.json" },
      { url: "http://shop-api.shop.svc.cluster.local/v3/api-docs" },
    ])
      expect(openApiSource.safeParse(source).error?.issues ?? [], JSON.stringify(source)).toEqual([]);
  });

  it("refuses plain http anywhere else", () => {
    for (const url of [
      "http://docs.example.com/openapi.json",
      "http://10.0.0.7/openapi.json",
      "http://shop-api.shop.svc.evil.com/x",
      "http://shop-api/openapi.json",
      "ftp://docs.example.com/o.json",
    ])
      expect(openApiSource.safeParse({ url }).success, url).toBe(false);
  });
});
