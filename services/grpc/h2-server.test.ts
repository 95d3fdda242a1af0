import { connect as connectTcp } from "node:net";
import { connect, type ClientHttp2Session, type Http2Server, type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerHttp2Stream } from "node:http2";
import { credentials, makeGenericClientConstructor, Metadata, status, type Client, type ServiceError } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { frameMessage } from "./framing.js";
import { GrpcH2Server } from "./h2-server.js";
import { GrpcError, GrpcStatus, percentEncode, timeoutMs } from "./status.js";
import { rawGrpcMethod } from "../../test/support/raw-grpc-method.js";

const ECHO = "/test.Echo/Echo";
const SLOW = "/test.Echo/Slow";
const FAIL = "/test.Echo/Fail";
const SUM = "/test.Echo/Sum";
const bytes = { decode: (b: Uint8Array): Buffer => Buffer.from(b), encode: (b: Buffer): Uint8Array => b };

interface Answer {
  headers: IncomingHttpHeaders;
  trailers: IncomingHttpHeaders;
  body: Buffer;
  /** grpc-status from trailers, or from headers of a trailers-only answer. */
  grpcStatus: string | undefined;
}

/** One call over raw HTTP/2: `body` is written as is (framing included). */
function call(session: ClientHttp2Session, headers: OutgoingHttpHeaders, body: Buffer | Buffer[]): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":method": "POST", "content-type": "application/grpc", te: "trailers", ...headers });
    let responseHeaders: IncomingHttpHeaders = {};
    let trailers: IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on("response", (h: IncomingHttpHeaders) => (responseHeaders = h));
    stream.on("trailers", (t: IncomingHttpHeaders) => (trailers = t));
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("error", reject);
    stream.on("close", () => {
      const grpcStatus = trailers["grpc-status"] ?? responseHeaders["grpc-status"];
      resolve({ headers: responseHeaders, trailers, body: Buffer.concat(chunks), grpcStatus: grpcStatus === undefined ? undefined : String(grpcStatus) });
    });
    const parts = Array.isArray(body) ? body : [body];
    for (const p of parts) stream.write(p);
    stream.end();
  });
}

describe("the gRPC server over node:http2", () => {
  let server: GrpcH2Server;
  let port: number;
  let session: ClientHttp2Session;
  const handlerErrors: string[] = [];

  beforeAll(async () => {
    server = new GrpcH2Server({ maxMessageBytes: 64 * 1024, maxBufferedBytes: 256 * 1024, maxConcurrentStreams: 50, onHandlerError: (path) => handlerErrors.push(path) });
    server.add(ECHO, { kind: "unary", ...bytes, handle: (request: Buffer) => Promise.resolve(request) });
    server.add(SLOW, { kind: "unary", ...bytes, handle: (request: Buffer) => new Promise((r) => setTimeout(() => r(request), 60)) });
    server.add(FAIL, {
      kind: "unary",
      ...bytes,
      handle: (request: Buffer) => Promise.reject(request.length ? new GrpcError(GrpcStatus.NOT_FOUND, "nö 100% \n") : new Error("bug")),
    });
    server.add(SUM, {
      kind: "stream",
      decode: (b: Uint8Array) => b.length,
      encode: (n: number) => Buffer.from(String(n)),
      open: (c) => {
        let total = 0;
        return {
          message: (n: number) => (total += n),
          end: () => {
            c.send(total);
            c.finish();
          },
        };
      },
    });
    port = await server.listen("127.0.0.1", 0);
    session = connect(`http://127.0.0.1:${port}`);
  });

  afterAll(async () => {
    session.close();
    await server.close(100);
  });

  it("answers unary calls of a gRPC library (grpc-js) and streams of many messages", async () => {
    const Ctor = makeGenericClientConstructor(
      {
        Echo: rawGrpcMethod(ECHO),
        Fail: rawGrpcMethod(FAIL),
        Nope: rawGrpcMethod("/test.Echo/Nope"),
        Sum: rawGrpcMethod(SUM, true),
      },
      "Echo",
    );
    type Unary = (request: Buffer, metadata: Metadata, callback: (error: ServiceError | null, response?: Buffer) => void) => void;
    type Streaming = (callback: (error: ServiceError | null, response?: Buffer) => void) => { write(b: Buffer): void; end(): void };
    const client = new Ctor(`127.0.0.1:${port}`, credentials.createInsecure()) as unknown as Client & { Echo: Unary; Fail: Unary; Nope: Unary; Sum: Streaming };
    const unary = (m: Unary, b: Buffer): Promise<Buffer> => new Promise((resolve, reject) => m.call(client, b, new Metadata(), (e, r) => (e ? reject(e) : resolve(r as Buffer))));
    try {
      const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => unary(client.Echo, Buffer.from(`hello ${i}`))));
      expect(answers.map(String)).toEqual(Array.from({ length: 200 }, (_, i) => `hello ${i}`));
      expect(String(await unary(client.Echo, Buffer.alloc(0)))).toBe("");
      await expect(unary(client.Nope, Buffer.from("x"))).rejects.toMatchObject({ code: status.UNIMPLEMENTED });
      // A GrpcError's status and message (percent-encoded on the wire, decoded by the client).
      await expect(unary(client.Fail, Buffer.from("x"))).rejects.toMatchObject({ code: status.NOT_FOUND, details: "nö 100% \n" });
      // Anything else: UNKNOWN, without the error's text, and the server is told.
      await expect(unary(client.Fail, Buffer.alloc(0))).rejects.toMatchObject({ code: status.UNKNOWN, details: "handler failed" });
      expect(handlerErrors).toEqual([FAIL]);
      const sum = await new Promise<Buffer>((resolve, reject) => {
        const s = client.Sum((e, r) => (e ? reject(e) : resolve(r as Buffer)));
        for (let i = 1; i <= 100; i++) s.write(Buffer.alloc(i));
        s.end();
      });
      expect(String(sum)).toBe("5050");
    } finally {
      client.close();
    }
  });

  it("percent-encodes grpc-message and reads grpc-timeout", () => {
    expect(percentEncode("plain text")).toBe("plain text");
    expect(percentEncode("a%b\nü")).toBe("a%25b%0A%C3%BC");
    expect(timeoutMs("5m")).toBe(5);
    expect(timeoutMs("2S")).toBe(2000);
    expect(timeoutMs("1H")).toBe(3_600_000);
    expect(timeoutMs("123456789m")).toBeUndefined();
    expect(timeoutMs("5x")).toBeUndefined();
    expect(timeoutMs(undefined)).toBeUndefined();
  });

  it("answers DEADLINE_EXCEEDED when the answer comes after grpc-timeout", async () => {
    const late = await call(session, { ":path": SLOW, "grpc-timeout": "10m" }, frameMessage(Buffer.from("x")));
    expect(late.grpcStatus).toBe(String(GrpcStatus.DEADLINE_EXCEEDED));
    const inTime = await call(session, { ":path": SLOW, "grpc-timeout": "5S" }, frameMessage(Buffer.from("x")));
    expect(inTime.grpcStatus).toBe("0");
    expect(String(inTime.body.subarray(5))).toBe("x");
  });

  it("refuses what is not a well-formed gRPC call with a status, and goes on serving", async () => {
    const echo = { ":path": ECHO };
    const cases: [OutgoingHttpHeaders, Buffer | Buffer[], number][] = [
      // compressed flag without an encoding; an encoding it does not know
      [echo, Buffer.from([1, 0, 0, 0, 1, 7]), GrpcStatus.INTERNAL],
      [{ ...echo, "grpc-encoding": "gzip" }, frameMessage(Buffer.from("x")), GrpcStatus.UNIMPLEMENTED],
      // a message longer than maxMessageBytes, refused from its header
      [echo, Buffer.from([0, 0x7f, 0xff, 0xff, 0xff]), GrpcStatus.RESOURCE_EXHAUSTED],
      // two messages in a unary call; none; a call cut inside a message
      [echo, Buffer.concat([frameMessage(Buffer.from("a")), frameMessage(Buffer.from("b"))]), GrpcStatus.INTERNAL],
      [echo, [frameMessage(Buffer.from("a")), frameMessage(Buffer.from("b"))], GrpcStatus.INTERNAL],
      [echo, [frameMessage(Buffer.from("a")), Buffer.from([0, 0])], GrpcStatus.INTERNAL],
      [echo, Buffer.alloc(0), GrpcStatus.INTERNAL],
      [echo, frameMessage(Buffer.from("abc")).subarray(0, 6), GrpcStatus.INTERNAL],
      [{ ":path": "/no.Such/Method" }, frameMessage(Buffer.from("x")), GrpcStatus.UNIMPLEMENTED],
    ];
    for (const [headers, body, code] of cases) expect((await call(session, headers, body)).grpcStatus, JSON.stringify(headers)).toBe(String(code));
    const notGrpc = await call(session, { ":path": ECHO, "content-type": "text/plain" }, Buffer.from("hi"));
    expect(notGrpc.headers[":status"]).toBe(415);
    expect((await call(session, { ":path": ECHO }, frameMessage(Buffer.from("still here")))).grpcStatus).toBe("0");
    const frame = frameMessage(Buffer.from("in pieces"));
    const pieces = await call(session, { ":path": ECHO }, [frame.subarray(0, 3), frame.subarray(3, 7), frame.subarray(7)]);
    expect([pieces.grpcStatus, String(pieces.body.subarray(5))]).toEqual(["0", "in pieces"]);
  });

  it("bounds the partial messages it holds over all calls: past the budget a call ends RESOURCE_EXHAUSTED", async () => {
    // Five calls each hold 60 KiB of a 64 KiB message (within maxMessageBytes): the budget of 256 KiB refuses the fifth.
    const header = Buffer.from([0, 0, 0, 0xff, 0xff]);
    const streams = Array.from({ length: 5 }, () => session.request({ ":method": "POST", ":path": ECHO, "content-type": "application/grpc", te: "trailers" }));
    const statuses = streams.map(
      (s) =>
        new Promise<string | undefined>((resolve) => {
          let grpcStatus: string | undefined;
          s.on("response", (h: IncomingHttpHeaders) => (grpcStatus = h["grpc-status"] === undefined ? grpcStatus : String(h["grpc-status"])));
          s.on("trailers", (t: IncomingHttpHeaders) => (grpcStatus = String(t["grpc-status"])));
          s.on("error", () => undefined);
          s.on("close", () => resolve(grpcStatus));
          s.resume();
        }),
    );
    for (const s of streams) {
      s.write(header);
      s.write(Buffer.alloc(60 * 1024));
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const s of streams) s.close();
    const got = await Promise.all(statuses);
    expect(got.filter((x) => x === String(GrpcStatus.RESOURCE_EXHAUSTED))).toHaveLength(1);
    expect((await call(session, { ":path": ECHO }, frameMessage(Buffer.from("ok")))).grpcStatus).toBe("0");
  });

  it("advertises its limit of calls per connection, and survives bytes that are not HTTP/2", async () => {
    await new Promise((r) => (session.remoteSettings.maxConcurrentStreams === undefined ? session.once("remoteSettings", r) : r(undefined)));
    expect(session.remoteSettings.maxConcurrentStreams).toBe(50);
    await new Promise<void>((resolve) => {
      const socket = connectTcp(port, "127.0.0.1", () => socket.end(Buffer.from("GET / HTTP/1.1\r\n\r\n\u0000\u0001garbage".repeat(100))));
      socket.on("error", () => resolve());
      socket.on("close", () => resolve());
      socket.resume();
    });
    expect((await call(session, { ":path": ECHO }, frameMessage(Buffer.from("alive")))).grpcStatus).toBe("0");
  });

  it("closes gracefully: a call in flight finishes, new connections are refused", async () => {
    const own = new GrpcH2Server();
    own.add(SLOW, { kind: "unary", ...bytes, handle: (request: Buffer) => new Promise((r) => setTimeout(() => r(request), 100)) });
    const p = await own.listen("127.0.0.1", 0);
    const s = connect(`http://127.0.0.1:${p}`);
    s.on("error", () => undefined);
    const inFlight = call(s, { ":path": SLOW }, frameMessage(Buffer.from("last")));
    await new Promise((r) => setTimeout(r, 30));
    await own.close(2000);
    const answer = await inFlight;
    expect(answer.grpcStatus).toBe("0");
    const refused = connect(`http://127.0.0.1:${p}`);
    await expect(new Promise((resolve, reject) => (refused.on("connect", resolve), refused.on("error", reject)))).rejects.toThrow(/ECONNREFUSED/);
  });

  it("tells handlers the client's address, also once the call has ended, and drops a finished call's listeners", async () => {
    const own = new GrpcH2Server();
    const peers: string[] = [];
    own.add("/test.Echo/Peer", {
      kind: "unary",
      ...bytes,
      handle: (_request: Buffer, c) => {
        peers.push(c.peer);
        // Read again after the answer went out and the stream closed.
        setTimeout(() => peers.push(c.peer), 50);
        return Promise.resolve(Buffer.from(c.peer));
      },
    });
    own.add("/test.Echo/PeerStream", {
      kind: "stream",
      ...bytes,
      open: (c) => ({
        message: () => undefined,
        end: () => {
          c.send(Buffer.from(c.peer));
          c.finish();
        },
      }),
    });
    const p = await own.listen("127.0.0.1", 0);
    const s = connect(`http://127.0.0.1:${p}`);
    try {
      const local = await new Promise<string>((resolve) => s.once("connect", () => resolve(`127.0.0.1:${s.socket.localPort ?? 0}`)));
      let serverStream: ServerHttp2Stream | undefined;
      (own as unknown as { server: Http2Server }).server.prependListener("stream", (st) => (serverStream = st));
      // The call's own listeners (Node's stream keeps its internal ones).
      const listening = (): number => (serverStream ? ["data", "end", "wantTrailers", "close"].reduce((n, e) => n + (serverStream?.listenerCount(e) ?? 0), 0) : -1);
      const unary = await call(s, { ":path": "/test.Echo/Peer" }, frameMessage(Buffer.from("x")));
      expect(unary.body.subarray(5).toString()).toBe(local);
      await new Promise((r) => setTimeout(r, 80));
      expect(peers).toEqual([local, local]);
      expect(listening()).toBe(0);
      const streamed = await call(s, { ":path": "/test.Echo/PeerStream" }, frameMessage(Buffer.from("x")));
      expect(streamed.body.subarray(5).toString()).toBe(local);
    } finally {
      s.close();
      await own.close(100);
    }
  });

  it("says when the address is taken", async () => {
    const other = new GrpcH2Server();
    await expect(other.listen("127.0.0.1", port)).rejects.toThrow(/EADDRINUSE/);
  });
});
