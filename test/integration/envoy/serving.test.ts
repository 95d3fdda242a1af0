import { createServer, request, type IncomingHttpHeaders, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { standaloneBootstrap } from "../../../envoy/bootstrap/standalone-bootstrap.js";
import { fixtureSettings, servingWorkload } from "../../../envoy/testdata/ir-fixtures.js";
import { buildSidecarResources } from "../../../envoy/build/sidecar.js";
import { freePort } from "../../env/processes.js";
import { startEnvoy, type EnvoyProcess } from "../../support/envoy-process.js";

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One request with the path sent exactly as given (fetch would normalise it first). */
function send(port: number, options: { method?: string; path: string; body?: Buffer }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, method: options.method ?? "GET", path: options.path, headers: options.body ? { "content-length": options.body.length } : {} },
      (res) => {
        let body = "";
        res.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}

describe("a sidecar serving from a static bootstrap of the built resources", () => {
  let app: Server;
  const seen: { method: string; path: string; bytes: number }[] = [];
  let listenerPort: number;
  let envoy: EnvoyProcess;

  beforeAll(async () => {
    app = createServer((req, res) => {
      let bytes = 0;
      req.on("data", (chunk: Buffer) => (bytes += chunk.length));
      req.on("end", () => {
        seen.push({ method: req.method ?? "", path: req.url ?? "", bytes });
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ from: "app", path: req.url, bytes }));
      });
    });
    await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", resolve));
    const address = app.address();
    if (!address || typeof address !== "object") throw new Error("the app has no port");
    listenerPort = await freePort();
    const resources = buildSidecarResources(servingWorkload({ listener: listenerPort, app: address.port }), fixtureSettings);
    envoy = await startEnvoy(standaloneBootstrap(resources), "envoy-serving");
  });

  afterAll(async () => {
    await envoy?.stop();
    await new Promise((resolve) => app?.close(resolve));
  });

  it("forwards a matching route to the app and adds its response headers", async () => {
    const reply = await send(listenerPort, { path: "/hello" });
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)).toMatchObject({ from: "app", path: "/hello" });
    expect(reply.headers.deprecation).toBe("@1767225600");
  });

  it("matches on the normalised path", async () => {
    const reply = await send(listenerPort, { path: "/old/../hello" });
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)).toMatchObject({ from: "app", path: "/hello" });
  });

  it("answers everything else with the default-deny 404, without reaching the app", async () => {
    const before = seen.length;
    for (const probe of [{ path: "/nowhere" }, { path: "/hello", method: "DELETE" }]) {
      const reply = await send(listenerPort, probe);
      expect(reply.status).toBe(404);
      expect(reply.headers["content-type"]).toBe("application/json");
      expect(JSON.parse(reply.body)).toEqual({ error: "not_found" });
    }
    expect(seen.length).toBe(before);
  });

  it("answers a retired path with 410 Gone and its Sunset header", async () => {
    const reply = await send(listenerPort, { path: "/old/orders" });
    expect(reply.status).toBe(410);
    expect(reply.headers.sunset).toBe("Thu, 01 Jan 2026 00:00:00 GMT");
    // Sent as written: no `%` read as a formatter command (the request's user-agent is not copied in).
    expect(reply.headers.link).toBe('<https://dev.example.com/100%25?ua=%REQ(user-agent)%>; rel="sunset"');
    expect(JSON.parse(reply.body)).toEqual({ error: "gone" });
  });

  it("refuses a body over the route's limit with 413 and passes a smaller one", async () => {
    const small = await send(listenerPort, { method: "POST", path: "/upload", body: Buffer.alloc(1000, "a") });
    expect(small.status).toBe(200);
    expect(JSON.parse(small.body)).toMatchObject({ bytes: 1000 });
    const before = seen.length;
    const large = await send(listenerPort, { method: "POST", path: "/upload", body: Buffer.alloc(64 * 1024, "a") });
    expect(large.status).toBe(413);
    expect(seen.length).toBe(before);
  });

  it("refuses the third request within the window of a two-request local limit with 429", async () => {
    const statuses: number[] = [];
    let last: Reply | undefined;
    for (let i = 0; i < 3; i++) {
      last = await send(listenerPort, { path: "/limited" });
      statuses.push(last.status);
    }
    expect(statuses).toEqual([200, 200, 429]);
    expect(last?.headers["x-ratelimit-limit"]).toBe("2");
    expect(last?.headers["x-ratelimit-remaining"]).toBe("0");
  });
});
