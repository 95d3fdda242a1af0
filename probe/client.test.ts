import { createServer, type IncomingMessage } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BoundsError, ProbeClient, rawPath, type SafetyBounds } from "./client.js";

describe("the probe's bounded client", () => {
  const seen: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    seen.push(req);
    res.end("ok");
  });
  let base = "";
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    base = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  const bounds = (over: Partial<SafetyBounds> = {}): SafetyBounds => ({
    allowedHosts: [new URL(base).host],
    ratePerSecond: 1000,
    maxRequests: 3,
    allowUnsafeMethods: false,
    timeoutMs: 2000,
    ...over,
  });

  it("sends the path exactly as written, repeated headers as separate lines, and records credentials shortened", async () => {
    const client = new ProbeClient(bounds());
    const token = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLW9mLWEtdG9rZW4";
    const ex = await client.send({
      url: `${base}/v1//x/../y;m=1/%2F`,
      headers: [
        ["authorization", `Bearer ${token}`],
        ["authorization", "Bearer other"],
      ],
    });
    expect(ex.status).toBe(200);
    const req = seen.at(-1);
    expect(req?.url).toBe("/v1//x/../y;m=1/%2F");
    expect(req?.rawHeaders.filter((_, i, all) => all[i - 1]?.toLowerCase() === "authorization")).toEqual([`Bearer ${token}`, "Bearer other"]);
    expect(JSON.stringify(ex.headers)).not.toContain(token);
    expect(ex.headers[1]?.[1]).toMatch(/^Bearer eyJhbGciOiJF…\(\d+ chars\)$/);
  });

  it("refuses other hosts, unsafe methods and override headers, and stops at the request budget", async () => {
    const client = new ProbeClient(bounds());
    await expect(client.send({ url: "http://203.0.113.1/" })).rejects.toThrow(BoundsError);
    await expect(client.send({ url: `${base}/`, method: "DELETE" })).rejects.toThrow(/not a safe method/);
    await expect(client.send({ url: `${base}/`, headers: [["X-HTTP-Method-Override", "DELETE"]] })).rejects.toThrow(/unsafe method/);
    expect(client.requests).toBe(0);
    for (let i = 0; i < 3; i++) await client.send({ url: `${base}/` });
    await expect(client.send({ url: `${base}/` })).rejects.toThrow(/budget of 3 is spent/);
    await expect(new ProbeClient(bounds({ allowUnsafeMethods: true })).send({ url: `${base}/`, method: "DELETE" })).resolves.toMatchObject({ status: 200 });
  });

  it("paces requests to the rate", async () => {
    const client = new ProbeClient(bounds({ ratePerSecond: 20, maxRequests: 10 }));
    const started = Date.now();
    for (let i = 0; i < 5; i++) await client.send({ url: `${base}/` });
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
  });

  it("keeps the raw path of a URL", () => {
    expect(rawPath("http://h:1/a/../b?q=1")).toBe("/a/../b?q=1");
    expect(rawPath("https://h")).toBe("/");
  });
});
