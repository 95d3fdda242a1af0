import { createServer, type Server } from "node:http";
import type { Registry } from "prom-client";

export interface HealthChecks {
  /** The process is alive and its loops turn. */
  live(): boolean;
  /** Watches synced and the xDS server listening. */
  ready(): boolean;
}

/** /livez (also served as /healthz, the older name), /readyz and /metrics. */
export function startHttpServer(options: { host: string; port: number; checks: HealthChecks; registry: Registry }): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/livez" || path === "/healthz" || path === "/readyz") {
      const ok = path === "/readyz" ? options.checks.ready() : options.checks.live();
      res.writeHead(ok ? 200 : 503, { "content-type": "text/plain" }).end(ok ? "ok\n" : "not ready\n");
      return;
    }
    if (path === "/metrics") {
      options.registry
        .metrics()
        .then((text) => res.writeHead(200, { "content-type": options.registry.contentType }).end(text))
        .catch((error: unknown) => res.writeHead(500).end(String(error)));
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
  });
  return new Promise((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(
        error.code === "EADDRINUSE"
          ? new Error(`the health/metrics server could not listen on ${options.host}:${options.port}: the port is in use (choose another with --http-address)`)
          : error,
      ),
    );
    server.listen(options.port, options.host, () => resolve(server));
  });
}
