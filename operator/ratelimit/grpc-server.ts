import { constants, createServer, type Http2Server, type Http2Session, type IncomingHttpHeaders, type ServerHttp2Stream } from "node:http2";

/**
 * A small gRPC server (HTTP/2, length-prefixed messages, status in trailers) for bulwark
 * ratelimit's two methods: a unary call (ShouldRateLimit) and a client-streaming call
 * (StreamAccessLogs). It exists for the hot path: per call it does what gRPC requires and no
 * more, where a general server (interceptors, channelz, metadata objects, per-call listeners)
 * spent as much CPU on a call as the decision itself and left more garbage. Handles identity
 * encoding only (Envoy does not compress these calls); a compressed message is refused with
 * UNIMPLEMENTED. Deadlines are the caller's (Envoy times the call out itself).
 */

export const GrpcStatus = { OK: 0, INVALID_ARGUMENT: 3, RESOURCE_EXHAUSTED: 8, UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14 } as const;

export class GrpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** One method, working on message bytes (see unaryMethod and clientStreamingMethod). */
export type Method =
  | { kind: "unary"; call(request: Buffer): Promise<Buffer> }
  | { kind: "clientStreaming"; open(): { message(request: Buffer): void; end(): Promise<Buffer> } };

/** Methods by path, `/package.Service/Method`. */
export type Methods = ReadonlyMap<string, Method>;

function decoded<Req>(decode: (message: Buffer) => Req, message: Buffer): Req {
  try {
    return decode(message);
  } catch (error) {
    throw new GrpcError(GrpcStatus.INVALID_ARGUMENT, `request is not a valid message: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** A unary method from its codec and handler. */
export function unaryMethod<Req, Res>(m: { decode: (message: Buffer) => Req; handle: (request: Req) => Promise<Res>; encode: (response: Res) => Buffer }): Method {
  return {
    kind: "unary",
    call: async (request) => m.encode(await m.handle(decoded(m.decode, request))),
  };
}

/** A client-streaming method: `open` starts a call, `message` takes each request in order, `end` gives the response. */
export function clientStreamingMethod<Req, Res>(m: { decode: (message: Buffer) => Req; open: () => { message(request: Req): void; end(): Promise<Res> }; encode: (response: Res) => Buffer }): Method {
  return {
    kind: "clientStreaming",
    open: () => {
      const call = m.open();
      return {
        message: (request) => call.message(decoded(m.decode, request)),
        end: async () => m.encode(await call.end()),
      };
    },
  };
}

const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
const { HTTP2_HEADER_PATH, HTTP2_HEADER_STATUS, HTTP2_HEADER_CONTENT_TYPE, HTTP2_HEADER_METHOD } = constants;

/** Response headers of every call (one object, never changed). */
const RESPONSE_HEADERS = Object.freeze({ [HTTP2_HEADER_STATUS]: 200, [HTTP2_HEADER_CONTENT_TYPE]: "application/grpc" });
const OK_TRAILERS = Object.freeze({ "grpc-status": "0" });

function frame(message: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  message.copy(out, 5);
  return out;
}

/** Ends a call that sent nothing yet with a status (a "trailers-only" response). */
function fail(stream: ServerHttp2Stream, code: number, message: string): void {
  if (stream.destroyed || stream.closed) return;
  if (stream.headersSent) {
    stream.close(constants.NGHTTP2_INTERNAL_ERROR);
    return;
  }
  stream.respond({ ...RESPONSE_HEADERS, "grpc-status": String(code), "grpc-message": encodeURIComponent(message) }, { endStream: true });
}

function reply(stream: ServerHttp2Stream, body: Buffer): void {
  if (stream.destroyed || stream.closed) return;
  stream.respond(RESPONSE_HEADERS, { waitForTrailers: true });
  stream.once("wantTrailers", () => stream.sendTrailers(OK_TRAILERS));
  stream.end(frame(body));
}

/**
 * Splits the length-prefixed messages of a call's body as they arrive. Calls `each` with every
 * complete message; throws GrpcError on a compressed or oversized message.
 */
class MessageReader {
  private pending: Buffer | undefined;

  constructor(private readonly each: (message: Buffer) => void) {}

  push(chunk: Buffer): void {
    let data = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = undefined;
    while (data.length >= 5) {
      if (data[0] !== 0) throw new GrpcError(GrpcStatus.UNIMPLEMENTED, "compressed messages are not supported");
      const length = data.readUInt32BE(1);
      if (length > MAX_MESSAGE_BYTES) throw new GrpcError(GrpcStatus.RESOURCE_EXHAUSTED, `message of ${length} bytes exceeds ${MAX_MESSAGE_BYTES}`);
      if (data.length < 5 + length) break;
      this.each(data.subarray(5, 5 + length));
      data = data.subarray(5 + length);
    }
    if (data.length > 0) this.pending = data;
  }

  /** True when a message was cut short. */
  get incomplete(): boolean {
    return this.pending !== undefined;
  }
}

function errorStatus(error: unknown): { code: number; message: string } {
  if (error instanceof GrpcError) return { code: error.code, message: error.message };
  return { code: GrpcStatus.INTERNAL, message: error instanceof Error ? error.message : String(error) };
}

function serveUnary(stream: ServerHttp2Stream, method: Extract<Method, { kind: "unary" }>, onError: (error: unknown) => void): void {
  let request: Buffer | undefined;
  let count = 0;
  const reader = new MessageReader((message) => {
    count++;
    request = message;
  });
  stream.on("data", (chunk: Buffer) => {
    try {
      reader.push(chunk);
    } catch (error) {
      const { code, message } = errorStatus(error);
      fail(stream, code, message);
    }
  });
  stream.on("end", () => {
    if (stream.headersSent || stream.destroyed) return;
    if (count !== 1 || !request || reader.incomplete) {
      fail(stream, GrpcStatus.INVALID_ARGUMENT, `a unary call carries one message, not ${count}`);
      return;
    }
    method.call(request).then(
      (response) => reply(stream, response),
      (error: unknown) => {
        if (error instanceof GrpcError) {
          fail(stream, error.code, error.message);
          return;
        }
        onError(error);
        fail(stream, GrpcStatus.UNAVAILABLE, "the call failed");
      },
    );
  });
}

function serveClientStreaming(stream: ServerHttp2Stream, method: Extract<Method, { kind: "clientStreaming" }>, onError: (error: unknown) => void): void {
  const call = method.open();
  const reader = new MessageReader((message) => call.message(message));
  stream.on("data", (chunk: Buffer) => {
    try {
      reader.push(chunk);
    } catch (error) {
      onError(error);
      const { code, message } = errorStatus(error);
      fail(stream, code, message);
    }
  });
  stream.on("end", () => {
    if (stream.headersSent || stream.destroyed) return;
    call.end().then(
      (response) => reply(stream, response),
      (error: unknown) => {
        onError(error);
        const { code, message } = errorStatus(error);
        fail(stream, code, message);
      },
    );
  });
}

export interface GrpcServer {
  /** The port it listens on. */
  port: number;
  /** Stops accepting calls; open connections are told to go away and closed after `graceMs`. */
  stop(graceMs: number): Promise<void>;
}

/** Serves `methods` over cleartext HTTP/2 (h2c) on host:port (0: a free port). */
export async function startGrpcServer(options: { host: string; port: number; methods: Methods; onError: (error: unknown) => void }): Promise<GrpcServer> {
  const sessions = new Set<Http2Session>();
  // Node's per-connection memory bound refuses streams (ENHANCE_YOUR_CALM) when a sidecar has
  // many calls in flight; like other gRPC servers on Node, leave the bound to the process.
  const server: Http2Server = createServer({ maxSessionMemory: 1024, maxSendHeaderBlockLength: 1 << 20 });
  server.on("session", (session: Http2Session) => {
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
    session.on("error", () => undefined);
  });
  server.on("stream", (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    stream.on("error", () => undefined);
    const method = options.methods.get(String(headers[HTTP2_HEADER_PATH]));
    const contentType = headers[HTTP2_HEADER_CONTENT_TYPE];
    if (headers[HTTP2_HEADER_METHOD] !== "POST" || typeof contentType !== "string" || !contentType.startsWith("application/grpc")) {
      stream.respond({ [HTTP2_HEADER_STATUS]: 415 }, { endStream: true });
      return;
    }
    if (!method) {
      stream.resume();
      fail(stream, GrpcStatus.UNIMPLEMENTED, `unknown method ${String(headers[HTTP2_HEADER_PATH])}`);
      return;
    }
    if (method.kind === "unary") serveUnary(stream, method, options.onError);
    else serveClientStreaming(stream, method, options.onError);
  });
  const host = options.host.includes(":") ? options.host.replace(/^\[|\]$/g, "") : options.host;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  const port = address && typeof address === "object" ? address.port : options.port;
  return {
    port,
    async stop(graceMs: number): Promise<void> {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const session of sessions) session.close();
      const timer = setTimeout(() => {
        for (const session of sessions) session.destroy();
      }, graceMs);
      await closed;
      clearTimeout(timer);
    },
  };
}
