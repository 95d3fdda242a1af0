import { describe, expect, it } from "vitest";
import type { InventoryEndpoint, WorkloadInventory } from "../../../contract/telemetry.js";
import { exportOpenApi, exportPath } from "./openapi-export.js";
import { readOpenApi } from "./openapi-document.js";

const endpoint = (overrides: Partial<InventoryEndpoint>): InventoryEndpoint => ({
  method: "GET",
  path: "/v1/orders/{id}",
  class: "documented",
  count: 3,
  statuses: { "2xx": 2, "4xx": 1 },
  authenticated: 3,
  appVersions: ["2.0.0"],
  firstSeen: "2026-12-03T10:00:00.000Z",
  lastSeen: "2026-12-03T11:00:00.000Z",
  ...overrides,
});

const inventory = (endpoints: InventoryEndpoint[]): WorkloadInventory => ({
  workload: "apisecuritypolicy/shop/api/ports/1-2",
  policy: { namespace: "shop", name: "api" },
  endpoints,
  observed: 10,
  dropped: 0,
});

describe("exportOpenApi", () => {
  it("gives each path variable a unique name", () => {
    expect(exportPath("/v1/{param}/items/{param}/x/{id}")).toEqual({ path: "/v1/{param}/items/{param2}/x/{id}", parameters: ["param", "param2", "id"] });
  });

  it("describes what was called, deterministically, and reads back as the same operations", () => {
    const invs = [
      inventory([
        endpoint({ method: "DELETE", path: "/v0/things/{param}", class: "zombie", statuses: { "0": 1 } }),
        endpoint({}),
        endpoint({ method: "POST", path: "/v2/never", class: "unused", count: 0, statuses: {}, firstSeen: undefined, lastSeen: undefined }),
        endpoint({ method: "OTHER", path: "/x" }),
        endpoint({ path: "/internal/{param}/{param}", class: "shadow" }),
      ]),
      inventory([endpoint({ count: 1 })]),
      inventory([endpoint({ appVersions: ["9.9.9"] })]),
    ];
    const doc = exportOpenApi(invs, { title: "api", version: "observed" });
    expect(JSON.stringify(exportOpenApi([...invs].reverse(), { title: "api", version: "observed" }))).toBe(JSON.stringify(doc));
    const paths = doc.paths as Record<string, Record<string, Record<string, unknown>>>;
    expect(Object.keys(paths)).toEqual(["/internal/{param}/{param2}", "/v0/things/{param}", "/v1/orders/{id}"]);
    expect(paths["/v1/orders/{id}"]!.get).toMatchObject({ "x-bulwark-count": 3, responses: { "2XX": {}, "4XX": {} }, parameters: [{ name: "id", in: "path", required: true }] });
    expect(paths["/v0/things/{param}"]!.delete).toMatchObject({ deprecated: true, responses: { default: {} } });
    const read = readOpenApi(JSON.stringify(doc));
    expect(read.errors).toEqual([]);
    expect(read.endpoints.map((e) => `${e.method} ${e.path} ${e.deprecated}`)).toEqual([
      "GET /internal/{param}/{param2} false",
      "DELETE /v0/things/{param} true",
      "GET /v1/orders/{id} false",
    ]);
  });
});
