import { describe, expect, it } from "vitest";
import { EndpointTable } from "./endpoint-table.js";
import { parseStoredTable } from "./stored-table.js";

describe("parseStoredTable", () => {
  it("reads back what the table stored", () => {
    const table = new EndpointTable();
    table.observe({
      workload: "apisecuritypolicy/a/b/ports/1-2",
      route: "r",
      method: "GET",
      path: "/v1/x/1",
      status: 200,
      authenticated: true,
      appVersion: "1.0.0",
      clientAddress: "1.1.1.1",
      timeMs: 5,
      latencyMs: 1,
      requestBytes: 0,
      responseBytes: 0,
    });
    const read = parseStoredTable(JSON.stringify(table.toJSON()));
    if (!("table" in read)) throw new Error(read.error);
    expect(EndpointTable.fromJSON(read.table).snapshot()).toEqual(table.snapshot());
  });

  it("refuses what is not a stored table instead of throwing", () => {
    expect(parseStoredTable("{")).toMatchObject({ error: expect.stringMatching(/not JSON/) as unknown });
    expect(parseStoredTable(JSON.stringify({ version: 2, droppedEntries: 0, workloads: [] }))).toMatchObject({ error: expect.stringMatching(/another shape/) as unknown });
    expect(parseStoredTable(JSON.stringify({ version: 1, droppedEntries: -1, workloads: [] }))).toMatchObject({ error: expect.stringMatching(/droppedEntries/) as unknown });
  });
});
