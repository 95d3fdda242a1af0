import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { rootCertificates } from "node:tls";
import { setTimeout as sleep } from "node:timers/promises";
import { errorMessage } from "../common/errors.js";
import type { Exchange } from "./types.js";

/** The bounds a probe run never crosses: whom it contacts, how fast, how much, and with which methods. */
export interface SafetyBounds {
  /** Hosts (`host` or `host:port`, lowercase) the probe may contact; anything else is refused before a byte is sent. */
  allowedHosts: string[];
  /** Requests per second at most. */
  ratePerSecond: number;
  /** Requests in the whole run at most; once spent, checks that still need requests report that they could not run. */
  maxRequests: number;
  /** Methods other than GET, HEAD and OPTIONS (and method-override headers) only when true. */
  allowUnsafeMethods: boolean;
  /** Per request. */
  timeoutMs: number;
  /** Accept a TLS certificate the system does not trust (labs). */
  insecureTls?: boolean;
  /** CA certificates (PEM) to trust besides the system's, e.g. a staging environment's private CA. */
  caPem?: string;
}

export const SAFE_METHODS = ["GET", "HEAD", "OPTIONS"];

/** A request the bounds refuse: the check that wanted it reports that it could not run, with this message. */
export class BoundsError extends Error {}

export interface ProbeRequest {
  method?: string;
  /** Absolute URL; its path is sent exactly as written (no normalisation of `..`, `//` or `%2F`). */
  url: string;
  /** In order; a name may repeat (sent as that many header lines). */
  headers?: [string, string][];
  /** Request body (its Content-Length is added); recorded in the evidence only by its length. */
  body?: string;
}

/** Shortens credentials in recorded headers: evidence shows which token was used, not the token. */
function redacted(name: string, value: string): string {
  const n = name.toLowerCase();
  if (n !== "authorization" && n !== "dpop") return value;
  const [scheme, credential] = value.includes(" ") ? value.split(" ", 2) : ["", value];
  const short = (credential ?? "").length > 16 ? `${(credential ?? "").slice(0, 12)}…(${(credential ?? "").length} chars)` : (credential ?? "");
  return scheme ? `${scheme} ${short}` : short;
}

function flatHeaders(res: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(res.headers)) if (value !== undefined) out[name] = Array.isArray(value) ? value.join(", ") : value;
  return out;
}

/** The path and query of `url` exactly as written (URL parsing would resolve `..` and `//`). */
export function rawPath(url: string): string {
  const afterScheme = url.replace(/^[a-z]+:\/\/[^/?#]*/i, "");
  return afterScheme === "" ? "/" : afterScheme;
}

/**
 * The only way the probe sends requests: every request is checked against the bounds (host,
 * method, count) and paced to the rate; the exchange is recorded as evidence.
 */
export class ProbeClient {
  private sent = 0;
  private nextAt = 0;
  constructor(
    private readonly bounds: SafetyBounds,
    private readonly onRequest: (sent: number, max: number) => void = () => undefined,
  ) {}

  get requests(): number {
    return this.sent;
  }

  remaining(): number {
    return this.bounds.maxRequests - this.sent;
  }

  allowsUnsafe(): boolean {
    return this.bounds.allowUnsafeMethods;
  }

  /** The CA certificates to trust besides the system's (for the transport checks' own handshakes). */
  extraCa(): string | undefined {
    return this.bounds.caPem;
  }

  private admit(method: string, url: URL): void {
    const host = url.host.toLowerCase();
    if (!this.bounds.allowedHosts.some((h) => h === host || h === url.hostname.toLowerCase())) throw new BoundsError(`${host} is not an allowed host (--allow-host)`);
    if (!SAFE_METHODS.includes(method) && !this.bounds.allowUnsafeMethods) throw new BoundsError(`${method} is not a safe method (--allow-unsafe-methods)`);
    if (this.sent >= this.bounds.maxRequests) throw new BoundsError(`the request budget of ${this.bounds.maxRequests} is spent (--max-requests)`);
  }

  async send(req: ProbeRequest): Promise<Exchange> {
    const method = req.method ?? "GET";
    const url = new URL(req.url);
    this.admit(method, url);
    for (const [name, value] of req.headers ?? []) {
      if (/method-override$|^x-http-method$/i.test(name) && !SAFE_METHODS.includes(value.toUpperCase()) && !this.bounds.allowUnsafeMethods)
        throw new BoundsError(`${name}: ${value} asks for an unsafe method (--allow-unsafe-methods)`);
    }
    const wait = this.nextAt - Date.now();
    if (wait > 0) await sleep(wait);
    this.nextAt = Math.max(Date.now(), this.nextAt) + 1000 / this.bounds.ratePerSecond;
    this.sent += 1;
    this.onRequest(this.sent, this.bounds.maxRequests);
    return this.exchange(method, url, req);
  }

  private exchange(method: string, url: URL, req: ProbeRequest): Promise<Exchange> {
    // Raw header lists are sent as given: Node adds no Host to them.
    const given: [string, string][] = [
      ...(req.headers ?? []),
      ...(req.body !== undefined ? ([["content-length", String(Buffer.byteLength(req.body))]] as [string, string][]) : []),
    ];
    const headers: [string, string][] = given.some(([n]) => n.toLowerCase() === "host") ? given : [["host", url.host], ...given];
    const record: Exchange = { method, url: req.url, headers: headers.map(([n, v]) => [n, redacted(n, v)]), status: 0, responseHeaders: {}, body: "" };
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise((resolve) => {
      const r = send(
        {
          host: url.hostname,
          port: url.port || undefined,
          method,
          path: rawPath(req.url),
          headers: headers.flat(),
          agent: false,
          timeout: this.bounds.timeoutMs,
          ...(url.protocol === "https:" && this.bounds.insecureTls ? { rejectUnauthorized: false } : {}),
          ...(url.protocol === "https:" && this.bounds.caPem ? { ca: [...rootCertificates, this.bounds.caPem] } : {}),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.length < 64 && chunks.push(c));
          res.on("end", () => resolve({ ...record, status: res.statusCode ?? 0, responseHeaders: flatHeaders(res), body: Buffer.concat(chunks).toString("utf8").slice(0, 2000) }));
          res.on("error", (error) => resolve({ ...record, error: errorMessage(error) }));
        },
      );
      r.on("error", (error) => resolve({ ...record, error: errorMessage(error) }));
      r.on("timeout", () => r.destroy(new Error(`no answer within ${this.bounds.timeoutMs} ms`)));
      r.end(req.body);
    });
  }
}
