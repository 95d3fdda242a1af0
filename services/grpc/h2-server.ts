import { constants, createSecureServer, createServer, type Http2Server, type Http2Session, type IncomingHttpHeaders, type ServerHttp2Stream } from "node:http2";
import { FRAME_HEADER_BYTES, frameMessage, MessageReader } from "./framing.js";
import { GrpcError, GrpcStatus, percentEncode, timeoutMs, type GrpcStatusCode } from "./status.js";

/**
 * A small gRPC server over node:http2 for the data-plane services: the gRPC HTTP/2 protocol
 * (length-prefixed messages, grpc-status and grpc-message trailers, grpc-timeout) and nothing
 * else: no compression (none is advertised; a compressed message is refused), no
 * interceptors; TLS when given a certificate. Messages are decoded and encoded by the method's own functions (protobufjs with
 * the Envoy protos); this file only moves bytes.
 *
 * Bounds for a hostile client: a message longer than maxMessageBytes is refused from its header;
 * at most maxConcurrentStreams calls per connection (HTTP/2 SETTINGS); at most maxBufferedBytes
 * of partial messages held over all calls (a call that would exceed it ends RESOURCE_EXHAUSTED);
 * garbage ends the call or the connection, never the process.
 */

/** What a handler may read of its call. */
export interface CallInfo {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** Milliseconds since the epoch (Date.now()) after which the client has given up, from grpc-timeout. */
  readonly deadline: number;
  /** The client's address and port (`host:port`), for logs. */
  readonly peer: string;
}

export interface UnaryMethod<Req, Res> {
  kind: "unary";
  decode(bytes: Uint8Array): Req;
  encode(response: Res): Uint8Array;
  handle(request: Req, call: CallInfo): Promise<Res>;
}

/** A call whose requests arrive as a stream (client-streaming or bidirectional). */
export interface StreamCall<Res> extends CallInfo {
  /** Sends one response message. */
  send(response: Res): void;
  /** Ends the call with a status (OK by default). Later calls do nothing. */
  finish(code?: GrpcStatusCode, message?: string): void;
  /** Stops reading requests (HTTP/2 flow control then holds the client back) until resume(). */
  pause(): void;
  resume(): void;
  readonly ended: boolean;
}

export interface StreamHandlers<Req> {
  message(request: Req): void;
  /** The client finished sending. */
  end(): void;
  /** The call ended early: the client cancelled, the connection closed, or a request was refused. */
  cancelled?(): void;
}

export interface StreamingMethod<Req, Res> {
  kind: "stream";
  decode(bytes: Uint8Array): Req;
  encode(response: Res): Uint8Array;
  open(call: StreamCall<Res>): StreamHandlers<Req>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a registry of methods of any message types
export type GrpcMethod = UnaryMethod<any, any> | StreamingMethod<any, any>;

export interface GrpcH2ServerOptions {
  /** Largest request message; default 4 MiB (gRPC's usual default). */
  maxMessageBytes?: number;
  /** Calls at once per connection; default 1000. */
  maxConcurrentStreams?: number;
  /** Bytes of partial messages held over all calls; default 64 MiB. */
  maxBufferedBytes?: number;
  /** Called when a handler fails with something other than a GrpcError (it answers UNKNOWN). */
  onHandlerError?: (path: string, error: unknown) => void;
  /** Serve over TLS (1.2 or later, ALPN h2) with this certificate (PEM, with its chain) and key; absent: plaintext HTTP/2. */
  tls?: { certPem: string; keyPem: string };
  /** Called for each connection whose TLS handshake failed (plaintext, or a client that refused the certificate). */
  onTlsError?: (peer: string, error: Error) => void;
}

const RESPONSE_HEADERS = { ":status": 200, "content-type": "application/grpc" } as const;
const OK_TRAILERS = { "grpc-status": "0" } as const;
const NO_DEADLINE = Number.MAX_SAFE_INTEGER;

function ignore(): void {}

/**
 * Drops the call's reading listeners once its stream has closed (nothing is emitted after
 * 'close'). Node keeps a closed stream reachable from its native handle until a full garbage
 * collection, so without this every call's closures, request bytes (a view of the connection's
 * read buffer) and decoded request would outlive every young-generation collection and be
 * promoted with it. By event name: removeAllListeners() without one also queues a tick per call.
 */
function forgetCall(this: ServerHttp2Stream): void {
  this.removeAllListeners("data");
  this.removeAllListeners("end");
}

/** What a handler may read of its call; the peer's address is looked up only when read (logs). */
class Call implements CallInfo {
  private readonly session: Http2Session | undefined;

  constructor(
    readonly path: string,
    readonly headers: IncomingHttpHeaders,
    readonly deadline: number,
    stream: ServerHttp2Stream,
  ) {
    this.session = stream.session;
  }

  get peer(): string {
    const socket = this.session?.socket;
    return `${socket?.remoteAddress ?? "unknown"}:${socket?.remotePort ?? 0}`;
  }
}

function trailersOf(code: GrpcStatusCode, message: string): Record<string, string> {
  return message ? { "grpc-status": String(code), "grpc-message": percentEncode(message) } : { "grpc-status": String(code) };
}

/** Whether the stream can still be answered. */
function open(stream: ServerHttp2Stream): boolean {
  return !stream.destroyed && !stream.closed;
}

/**
 * Ends a call with a status: trailers-only when nothing was sent yet, otherwise in trailers. A
 * request still being sent is cut short (RST_STREAM NO_ERROR once the answer is out).
 */
function finishWithStatus(stream: ServerHttp2Stream, code: GrpcStatusCode, message: string): void {
  if (!open(stream)) return;
  const trailers = trailersOf(code, message);
  if (!stream.headersSent) stream.respond({ ...RESPONSE_HEADERS, ...trailers }, { endStream: true });
  else if (!stream.writableEnded) {
    stream.once("wantTrailers", () => stream.sendTrailers(trailers));
    stream.end();
  }
  if (!stream.readableEnded) stream.close(constants.NGHTTP2_NO_ERROR);
}

export class GrpcH2Server {
  private readonly methods = new Map<string, GrpcMethod>();
  private server: Http2Server | undefined;
  private readonly sessions = new Set<Http2Session>();
  private readonly maxMessageBytes: number;
  private readonly maxBufferedBytes: number;
  private buffered = 0;

  constructor(private readonly options: GrpcH2ServerOptions = {}) {
    this.maxMessageBytes = options.maxMessageBytes ?? 4 * 1024 * 1024;
    this.maxBufferedBytes = options.maxBufferedBytes ?? 64 * 1024 * 1024;
  }

  /** Serves `method` at `path` (`/package.Service/Method`). */
  add(path: string, method: GrpcMethod): this {
    if (this.methods.has(path)) throw new Error(`${path} is served already`);
    this.methods.set(path, method);
    return this;
  }

  /** Listens on host:port (0: a free port); resolves with the port. Rejects when the address is taken. */
  async listen(host: string, port: number): Promise<number> {
    const settings = { maxConcurrentStreams: this.options.maxConcurrentStreams ?? 1000 };
    const tls = this.options.tls;
    const server: Http2Server = tls ? createSecureServer({ settings, cert: tls.certPem, key: tls.keyPem, minVersion: "TLSv1.2", allowHTTP1: false }) : createServer({ settings });
    if (tls)
      server.on("tlsClientError", (error: Error, socket: { remoteAddress?: string; remotePort?: number }) =>
        this.options.onTlsError?.(`${socket.remoteAddress ?? "unknown"}:${socket.remotePort ?? 0}`, error),
      );
    server.on("session", (session: Http2Session) => {
      this.sessions.add(session);
      session.on("close", () => this.sessions.delete(session));
      // A connection's protocol errors close that connection only.
      session.on("error", () => undefined);
    });
    server.on("stream", (stream, headers) => this.dispatch(stream, headers));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    server.on("error", () => undefined);
    this.server = server;
    const address = server.address();
    return typeof address === "object" && address ? address.port : port;
  }

  private dispatch(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    stream.on("error", ignore);
    stream.once("close", forgetCall);
    const contentType = headers["content-type"];
    if (headers[":method"] !== "POST" || typeof contentType !== "string" || !contentType.startsWith("application/grpc")) {
      // Not a gRPC call: an HTTP answer (the gRPC protocol's mapping of 415).
      stream.respond(
        { ":status": 415, "grpc-status": String(GrpcStatus.INTERNAL), "grpc-message": "not a gRPC request (POST with content-type application/grpc)" },
        { endStream: true },
      );
      if (!stream.readableEnded) stream.close(constants.NGHTTP2_NO_ERROR);
      return;
    }
    const path = headers[":path"] ?? "";
    const method = this.methods.get(path);
    if (!method) return finishWithStatus(stream, GrpcStatus.UNIMPLEMENTED, `unknown method ${path}`);
    const encoding = headers["grpc-encoding"];
    if (encoding !== undefined && encoding !== "identity") {
      if (open(stream))
        stream.respond(
          { ...RESPONSE_HEADERS, "grpc-status": String(GrpcStatus.UNIMPLEMENTED), "grpc-message": "message encoding not supported", "grpc-accept-encoding": "identity" },
          { endStream: true },
        );
      if (!stream.readableEnded) stream.close(constants.NGHTTP2_NO_ERROR);
      return;
    }
    const timeout = timeoutMs(headers["grpc-timeout"]);
    const call = new Call(path, headers, timeout === undefined ? NO_DEADLINE : Date.now() + timeout, stream);
    if (method.kind === "unary") this.unary(stream, call, method);
    else this.streaming(stream, call, method);
  }

  /**
   * Reads the stream's messages; holds partial ones within the server-wide budget. A chunk that
   * is exactly one whole message (a unary request, as a client usually writes it) is handed on
   * without a reader.
   */
  private read(stream: ServerHttp2Stream, onMessages: (messages: Buffer[]) => void, onEnd: () => void, onFailure: (error: GrpcError) => void): void {
    let reader: MessageReader | undefined;
    const messages: Buffer[] = [];
    let held = 0;
    let failed = false;
    const release = (): void => {
      this.buffered -= held;
      held = 0;
    };
    stream.on("data", (chunk: Buffer) => {
      if (failed) return;
      if (reader === undefined && this.isWholeMessage(chunk)) return onMessages([chunk.subarray(FRAME_HEADER_BYTES)]);
      if (reader === undefined) {
        reader = new MessageReader(this.maxMessageBytes);
        stream.on("close", release);
      }
      try {
        reader.push(chunk, messages);
        const now = reader.pending;
        this.buffered += now - held;
        held = now;
        if (this.buffered > this.maxBufferedBytes) throw new GrpcError(GrpcStatus.RESOURCE_EXHAUSTED, "server is holding too many partial messages; try again");
      } catch (error) {
        failed = true;
        release();
        onFailure(error instanceof GrpcError ? error : new GrpcError(GrpcStatus.INTERNAL, "unreadable request"));
        return;
      }
      if (messages.length) onMessages(messages.splice(0));
    });
    stream.on("end", () => {
      if (failed) return;
      release();
      if (reader !== undefined && !reader.atBoundary) {
        failed = true;
        return onFailure(new GrpcError(GrpcStatus.INTERNAL, "request ended inside a message"));
      }
      onEnd();
    });
  }

  /** An uncompressed message within the size limit, with nothing before or after it. */
  private isWholeMessage(chunk: Buffer): boolean {
    return (
      chunk.length >= FRAME_HEADER_BYTES &&
      chunk[0] === 0 &&
      chunk.readUInt32BE(1) === chunk.length - FRAME_HEADER_BYTES &&
      chunk.length - FRAME_HEADER_BYTES <= this.maxMessageBytes
    );
  }

  private unary(stream: ServerHttp2Stream, call: CallInfo, method: UnaryMethod<unknown, unknown>): void {
    let request: Buffer | undefined;
    let refused = false;
    const refuse = (error: GrpcError): void => {
      refused = true;
      finishWithStatus(stream, error.code, error.message);
    };
    this.read(
      stream,
      (messages) => {
        if (refused) return;
        if (request !== undefined || messages.length > 1) return refuse(new GrpcError(GrpcStatus.INTERNAL, "more than one request message in a unary call"));
        request = messages[0];
      },
      () => {
        if (refused) return;
        if (request === undefined) return refuse(new GrpcError(GrpcStatus.INTERNAL, "no request message in a unary call"));
        this.answer(stream, call, method, request);
      },
      refuse,
    );
  }

  private answer(stream: ServerHttp2Stream, call: CallInfo, method: UnaryMethod<unknown, unknown>, bytes: Buffer): void {
    let decoded: unknown;
    try {
      decoded = method.decode(bytes);
    } catch {
      return finishWithStatus(stream, GrpcStatus.INTERNAL, "request message could not be decoded");
    }
    method.handle(decoded, call).then(
      (response) => {
        if (!open(stream)) return;
        if (Date.now() > call.deadline) return finishWithStatus(stream, GrpcStatus.DEADLINE_EXCEEDED, "deadline exceeded");
        let frame: Buffer;
        try {
          frame = frameMessage(method.encode(response));
        } catch (error) {
          this.options.onHandlerError?.(call.path, error);
          return finishWithStatus(stream, GrpcStatus.INTERNAL, "response message could not be encoded");
        }
        stream.respond(RESPONSE_HEADERS, { waitForTrailers: true });
        stream.once("wantTrailers", () => stream.sendTrailers(OK_TRAILERS));
        stream.end(frame);
      },
      (error: unknown) => this.failed(stream, call.path, error),
    );
  }

  private failed(stream: ServerHttp2Stream, path: string, error: unknown): void {
    if (error instanceof GrpcError) return finishWithStatus(stream, error.code, error.message);
    this.options.onHandlerError?.(path, error);
    finishWithStatus(stream, GrpcStatus.UNKNOWN, "handler failed");
  }

  private streaming(stream: ServerHttp2Stream, info: CallInfo, method: StreamingMethod<unknown, unknown>): void {
    let ended = false;
    const call: StreamCall<unknown> = {
      path: info.path,
      headers: info.headers,
      deadline: info.deadline,
      get peer(): string {
        return info.peer;
      },
      get ended(): boolean {
        return ended;
      },
      send: (response) => {
        if (ended || !open(stream)) return;
        if (!stream.headersSent) stream.respond(RESPONSE_HEADERS, { waitForTrailers: true });
        stream.write(frameMessage(method.encode(response)));
      },
      finish: (code = GrpcStatus.OK, message = "") => {
        if (ended) return;
        ended = true;
        if (!open(stream)) return;
        if (!stream.headersSent) {
          stream.respond({ ...RESPONSE_HEADERS, ...trailersOf(code, message) }, { endStream: true });
        } else {
          stream.once("wantTrailers", () => stream.sendTrailers(trailersOf(code, message)));
          stream.end();
        }
        if (!stream.readableEnded) stream.close(constants.NGHTTP2_NO_ERROR);
      },
      pause: () => stream.pause(),
      resume: () => stream.resume(),
    };
    let handlers: StreamHandlers<unknown>;
    try {
      handlers = method.open(call);
    } catch (error) {
      return this.failed(stream, info.path, error);
    }
    const cancel = (): void => {
      if (ended) return;
      ended = true;
      handlers.cancelled?.();
    };
    this.read(
      stream,
      (messages) => {
        for (const bytes of messages) {
          if (ended) return;
          let request: unknown;
          try {
            request = method.decode(bytes);
          } catch {
            call.finish(GrpcStatus.INTERNAL, "request message could not be decoded");
            handlers.cancelled?.();
            return;
          }
          handlers.message(request);
        }
      },
      () => {
        if (!ended) handlers.end();
      },
      (error) => {
        call.finish(error.code, error.message);
        handlers.cancelled?.();
      },
    );
    stream.on("close", cancel);
  }

  /** Refuses new connections; lets calls in flight finish for up to graceMs, then closes the rest. */
  async close(graceMs = 1000): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const session of this.sessions) session.close();
    const timer = setTimeout(() => {
      for (const session of this.sessions) session.destroy();
    }, graceMs);
    await closed;
    clearTimeout(timer);
  }
}
