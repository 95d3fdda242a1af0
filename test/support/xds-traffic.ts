import { createServer, request, type IncomingMessage, type Server } from "node:http";
import { errorMessage } from "../../common/errors.js";

/** A tiny HTTP application on loopback: answers JSON naming itself and the path. */
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

export function startUpstream(name: string): Promise<Upstream> {
  return startJsonServer((req) => ({ upstream: name, path: req.url }));
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One GET to 127.0.0.1 on a fresh connection (so a listener change is seen at once). */
export function get(port: number, path: string, timeoutMs = 2000): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, timeout: timeoutMs, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error(`GET ${path} timed out after ${timeoutMs} ms`)));
    req.end();
  });
}

export interface TrafficReport {
  ok: number;
  failed: number;
  /** The first few failures, for the assertion message. */
  failures: string[];
}

/**
 * Requests `path` in a loop (one at a time, a new connection each) until stopped; a request
 * fails when it errors or its answer is not `expect`.
 */
export function trafficLoop(port: number, path: string, expect: (answer: HttpAnswer) => boolean): { readonly report: TrafficReport; stop(): Promise<TrafficReport> } {
  const report: TrafficReport = { ok: 0, failed: 0, failures: [] };
  let running = true;
  const fail = (why: string): void => {
    report.failed += 1;
    if (report.failures.length < 5) report.failures.push(why);
  };
  const loop = (async (): Promise<void> => {
    while (running) {
      try {
        const answer = await get(port, path);
        if (expect(answer)) report.ok += 1;
        else fail(`${answer.status} ${answer.body.slice(0, 200)}`);
      } catch (error) {
        fail(errorMessage(error));
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
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

/** Polls `probe` every `intervalMs` until it returns true; throws `what` after `timeoutMs`. */
export async function until(probe: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000, intervalMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let last: unknown;
    try {
      if (await probe()) return;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last === undefined ? "" : `: ${last instanceof Error ? last.message : JSON.stringify(last)}`}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
