import { Agent, request } from "node:http";
import type { TelemetryEntry } from "../../contract/telemetry.js";

/**
 * Replays telemetry-trace entries (test/support/traffic-trace.ts) as real HTTP requests through a
 * sidecar, in real time: each entry is sent when its offset from the trace's start has passed on
 * the wall clock (Envoy stamps entries with its own START_TIME, so the detectors see the trace's
 * rates). The caller's identity travels as the sidecar expects it: the client address as the one
 * X-Forwarded-For hop the policy trusts, the device and app headers, a token of the subject when
 * the entry was authenticated; the app answers with the entry's status (X-Want-Status).
 */

export interface ReplayReply {
  entry: TelemetryEntry;
  /** Wall time the request was sent. */
  sentMs: number;
  status: number;
  reason?: string;
}

export interface ReplayOptions {
  port: number;
  /** The trace's time origin: an entry at `traceStartMs + d` is sent at wall `wallStartMs + d`. */
  traceStartMs: number;
  wallStartMs: number;
  /** A bearer token for a subject (cached by the caller). */
  tokenOf: (subject: string) => string;
  /** Concurrent connections (keep-alive). */
  sockets?: number;
  /** Called with every answer as it comes. */
  onReply?: (reply: ReplayReply) => void;
}

export interface ReplayResult {
  replies: ReplayReply[];
  errors: number;
  /** Wall time from the first send to the last answer. */
  elapsedMs: number;
  /** How late the sender was, at worst, behind the trace's schedule. */
  maxLagMs: number;
}

function headersOf(entry: TelemetryEntry, tokenOf: (subject: string) => string): Record<string, string> {
  const headers: Record<string, string> = { host: "shop.test", "x-forwarded-for": entry.clientAddress ?? "192.0.2.1", "x-want-status": String(entry.status) };
  if (entry.device) headers["x-device-id"] = entry.device;
  if (entry.appVersion) headers["x-app-version"] = entry.appVersion;
  if (entry.platform) headers["x-app-platform"] = entry.platform;
  if (entry.authenticated && entry.subject) headers.authorization = `Bearer ${tokenOf(entry.subject)}`;
  if (entry.method === "POST") headers["content-length"] = "0";
  return headers;
}

export async function replayTrace(entries: readonly TelemetryEntry[], options: ReplayOptions): Promise<ReplayResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.sockets ?? 48 });
  const replies: ReplayReply[] = [];
  let errors = 0;
  let maxLagMs = 0;
  const inflight = new Set<Promise<void>>();
  const limit = (options.sockets ?? 48) * 4;
  const first = Date.now();
  const send = (entry: TelemetryEntry): Promise<void> =>
    new Promise((resolve) => {
      const sentMs = Date.now();
      const req = request({ host: "127.0.0.1", port: options.port, method: entry.method, path: entry.path, agent, headers: headersOf(entry, options.tokenOf) }, (res) => {
        res.resume();
        res.on("end", () => {
          const reason = res.headers["x-bulwark-reason"];
          const reply: ReplayReply = { entry, sentMs, status: res.statusCode ?? 0, ...(typeof reason === "string" ? { reason } : {}) };
          replies.push(reply);
          options.onReply?.(reply);
          resolve();
        });
      });
      req.on("error", () => {
        errors++;
        resolve();
      });
      req.end();
    });
  for (const entry of entries) {
    const due = options.wallStartMs + (entry.timeMs - options.traceStartMs);
    const wait = due - Date.now();
    if (wait > 2) await new Promise((r) => setTimeout(r, wait));
    else maxLagMs = Math.max(maxLagMs, -wait);
    while (inflight.size >= limit) await Promise.race(inflight);
    const p = send(entry);
    inflight.add(p);
    void p.then(() => inflight.delete(p));
  }
  await Promise.all(inflight);
  agent.destroy();
  return { replies, errors, elapsedMs: Date.now() - first, maxLagMs };
}
