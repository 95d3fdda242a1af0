import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fetchOpenApi } from "./openapi-fetch.js";

/** A server on loopback that answers each path as a policy's document URL might. */
describe("fetching a policy's OpenAPI document (spec.apiInventory.openAPI.url)", () => {
  let server: Server;
  let base: string;
  const document = "openapi: 3.0.3\npaths:\n  /v1/orders: {get: {}}\n";

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === "/openapi.yaml") res.end(document);
      else if (req.url === "/moved") res.writeHead(302, { location: "/openapi.yaml" }).end();
      else if (req.url === "/huge") res.end("x".repeat(2048));
      else if (req.url === "/slow") setTimeout(() => res.end(document), 1500);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    if (!address || typeof address !== "object") throw new Error("no port");
    base = `http://127.0.0.1:${address.port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const limits = { timeoutMs: 500, maxBytes: 1024 };

  it("reads the document", async () => {
    expect(await fetchOpenApi(`${base}/openapi.yaml`, limits)).toEqual({ text: document });
  });

  it("says why there is none: a redirect (not followed), another status, a body too large, no answer in time, no server", async () => {
    expect(await fetchOpenApi(`${base}/moved`, limits)).toEqual({ error: `GET ${base}/moved answered 302 (redirects are not followed)` });
    expect(await fetchOpenApi(`${base}/gone`, limits)).toEqual({ error: `GET ${base}/gone answered 404` });
    expect(await fetchOpenApi(`${base}/huge`, limits)).toEqual({ error: `GET ${base}/huge failed: the document is larger than 1024 bytes` });
    expect(await fetchOpenApi(`${base}/slow`, limits)).toEqual({ error: `GET ${base}/slow failed: no answer within 500 ms` });
    const closed = await fetchOpenApi("http://127.0.0.1:1/openapi.yaml", limits);
    expect("error" in closed && closed.error).toMatch(/^GET http:\/\/127\.0\.0\.1:1\/openapi\.yaml failed: /);
  });
});
