import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, type Server } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { errorMessage } from "../../common/errors.js";

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One request to 127.0.0.1 on a fresh connection (so a listener change is seen at once); a header given as a list is sent as that many lines. */
export function httpRequest(port: number, path: string, options: { headers?: OutgoingHttpHeaders; method?: string; timeoutMs?: number } = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method: options.method ?? "GET", headers: options.headers, timeout: options.timeoutMs ?? 2000, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error(`${options.method ?? "GET"} 127.0.0.1:${port}${path} timed out after ${options.timeoutMs ?? 2000} ms`)));
    req.end();
  });
}

/** One GET to 127.0.0.1 on a fresh connection. */
export function get(port: number, path: string, timeoutMs = 2000): Promise<HttpAnswer> {
  return httpRequest(port, path, { timeoutMs });
}

/** A tiny HTTP application on loopback, counting the requests that reached it. */
export interface Upstream {
  port: number;
  requests: number;
  close(): Promise<void>;
}

/** A JSON server on loopback answering every request with `reply(request)`, counting them. */
export async function startJsonServer(reply: (req: IncomingMessage) => unknown): Promise<Upstream> {
  const server: Server = createServer((req, res) => {
    upstream.requests += 1;
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify(reply(req)));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (!address || typeof address !== "object") throw new Error("the server has no port");
  const upstream: Upstream = {
    port: address.port,
    requests: 0,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return upstream;
}

export interface TrafficReport {
  ok: number;
  failed: number;
  /** The first few failures, for the assertion message. */
  failures: string[];
}

/**
 * Sends requests in a loop (one at a time, `pauseMs` apart) until stopped; a request fails when
 * it errors or `expect` refuses its answer.
 */
export function trafficLoop(
  send: () => Promise<HttpAnswer>,
  expect: (answer: HttpAnswer) => boolean,
  pauseMs = 5,
): { readonly report: TrafficReport; stop(): Promise<TrafficReport> } {
  const report: TrafficReport = { ok: 0, failed: 0, failures: [] };
  let running = true;
  const fail = (why: string): void => {
    report.failed += 1;
    if (report.failures.length < 5) report.failures.push(why);
  };
  const loop = (async (): Promise<void> => {
    while (running) {
      try {
        const answer = await send();
        if (expect(answer)) report.ok += 1;
        else fail(`${answer.status} ${answer.body.slice(0, 200)}`);
      } catch (error) {
        fail(errorMessage(error));
      }
      await sleep(pauseMs);
    }
  })();
  return {
    report,
    async stop(): Promise<TrafficReport> {
      running = false;
      await loop;
      return report;
    },
  };
}
