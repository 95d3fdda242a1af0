import { createConnection } from "node:net";
import { join } from "node:path";
import { freePort, startProcess, waitUntilReady, type ManagedProcess } from "./processes.js";

function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.setTimeout(1000);
    let reply = "";
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk) => {
      reply += chunk.toString("utf8");
      if (reply.includes("\r\n")) {
        socket.destroy();
        resolve(reply.startsWith("+PONG"));
      }
    });
    socket.on("error", () => resolve(false));
    socket.on("timeout", () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** Starts a throw-away redis-server on a free loopback port (or `port`, to restart one in place), without persistence. */
export async function startRedis(options: { dir: string; redisServer: string; keepAlive: boolean; port?: number }): Promise<{ url: string; process: ManagedProcess }> {
  const port = options.port ?? (await freePort());
  const proc = startProcess({
    name: "redis-server",
    command: options.redisServer,
    args: ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", options.dir, "--daemonize", "no"],
    logFile: join(options.dir, "redis.log"),
    keepAlive: options.keepAlive,
  });
  await waitUntilReady(proc, () => answersPing(port), 15_000);
  return { url: `redis://127.0.0.1:${port}`, process: proc };
}
